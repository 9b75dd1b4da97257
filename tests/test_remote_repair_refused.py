"""``repair`` does not take blob URLs yet: it says so, as a usage error, without showing the SAS it was given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO
from vhdfix import repair

SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
URL = f"https://account.blob.core.windows.net/disks/os.vhd?sv=2024-01-01&sr=b&sp=r&sig={SIGNATURE}"


@pytest.mark.parametrize("side", ["input", "output"])
def test_a_url_on_either_side_is_a_usage_error_that_keeps_the_sas_secret(tmp_path: Path, side: str) -> None:
    disk, output = (URL, str(tmp_path / "out.vhd")) if side == "input" else (str(FIXTURES / "provisioning-agent.vhd"),
                                                                           URL)
    done = subprocess.run([sys.executable, "-m", "vhdfix", "repair", disk, "--output", output, "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    result = json.loads(done.stdout)
    assert result["error"]["code"] == "remote-repair-unsupported"
    assert "https://account.blob.core.windows.net/disks/os.vhd" in result["error"]["message"]
    assert SIGNATURE not in done.stdout + done.stderr and "sig=" not in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_refuses_a_url_before_reading_anything(tmp_path: Path) -> None:
    result = repair(URL, tmp_path / "out.vhd")
    assert result.exit_code == 2 and result.error is not None and result.error.code == "remote-repair-unsupported"
    assert SIGNATURE not in json.dumps(result.to_json())
