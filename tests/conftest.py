from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared third-party test data (``VHDFIX_REALDATA``); tests using it skip without it."""
    root = os.environ.get("VHDFIX_REALDATA")
    if not root:
        pytest.skip("VHDFIX_REALDATA is not set")
    path = Path(root)
    if not path.is_dir():
        pytest.skip(f"VHDFIX_REALDATA={root} is not a directory")
    return path


def require_tool(name: str) -> str:
    """The path of an oracle tool. In CI a missing oracle is a failure, never a skip."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"oracle tool {name} is not installed; .ci/run must install it")
    pytest.skip(f"oracle tool {name} is not installed")


def gunzip_to(source: Path, target_dir: Path) -> Path:
    target = target_dir / source.name.removesuffix(".gz")
    if not target.exists():
        with gzip.open(source, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target
