"""A blob URL output that ``repair`` cannot write is a usage error, found before the destination is contacted, that
keeps the SAS secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO
from vhdfix import repair

SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
URL = f"https://account.blob.core.windows.net/disks/os.vhd?sv=2024-01-01&sr=b&sp=rw&sig={SIGNATURE}"


def test_a_url_output_in_another_format_than_fixed_vhd(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", "repair", str(FIXTURES / "provisioning-agent.vhd"),
                           "--output", URL, "--format", "vhdx", "--json"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    result = json.loads(done.stdout)
    assert result["error"]["code"] == "format-not-available" and "fixed VHD" in result["error"]["message"]
    assert result["output"]["path"] == URL.split("?")[0]
    assert SIGNATURE not in done.stdout + done.stderr and "sig=" not in done.stdout + done.stderr


def test_plain_http_to_another_host_is_refused_as_an_output() -> None:
    result = repair(FIXTURES / "provisioning-agent.vhd", URL.replace("https://", "http://"))
    assert result.exit_code == 2 and result.error is not None and result.error.code == "output-invalid"
    assert result.inspection is None  # refused before reading anything
    assert SIGNATURE not in json.dumps(result.to_json())
