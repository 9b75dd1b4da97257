from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.azurite import Azurite
    from tests.support.copy_inputs import Input
    from vhdfix.inspection import Inspection

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())


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


def unpack_to(source: Path, target_dir: Path) -> Path:
    """``source`` decompressed (``.gz`` or ``.xz``) into ``target_dir``; other files are copied."""
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(source.suffix, open)
    target = target_dir / (source.stem if source.suffix in (".gz", ".xz") else source.name)
    if not target.exists():
        with opener(source, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the session's unpacked sample disks (tests/support/samples.py) go into."""
    return tmp_path_factory.mktemp("samples")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Input]:
    """The copy tests' inputs (tests/support/copy_inputs.py), built once for each module that uses them."""
    from tests.support.copy_inputs import build_inputs

    built = build_inputs(tmp_path_factory.mktemp("inputs"))
    os.sync()  # so that the inputs' allocated sizes include what the file system allocates on writeback
    return built


@pytest.fixture(scope="session")
def inspected_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Inspection]:
    """Every disk of fixtures/MANIFEST.json, unpacked and inspected once a session, by its path in the manifest."""
    from vhdfix.inspection import inspect  # here, so that a conftest import does not load all of vhdfix

    unpacked = tmp_path_factory.mktemp("fixtures")
    results = {}
    for entry in MANIFEST["files"]:
        folder = unpacked / Path(entry["path"]).parent
        folder.mkdir(parents=True, exist_ok=True)
        results[entry["path"]] = inspect(unpack_to(FIXTURES / entry["path"], folder))
    return results


@cache
def read_realdata(relative: str) -> bytes:
    """A file of the shared test data, decompressed (``.xz``/``.gz``); skips the test when it is absent."""
    root = os.environ.get("VHDFIX_REALDATA")
    if not root:
        pytest.skip("VHDFIX_REALDATA is not set")
    path = Path(root) / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not in VHDFIX_REALDATA")
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    return data


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite server for the session's remote tests (tests/support/azurite.py)."""
    from tests.support.azurite import Azurite

    server = Azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Azurite]:
    """An Azurite server of the test's own, which the test may stop."""
    from tests.support.azurite import Azurite

    server = Azurite(tmp_path / "azurite")
    yield server
    server.stop()
