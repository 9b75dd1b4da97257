"""The sample disks the copy and repair tests share, and what each is diagnosed as."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, unpack_to
from vhdfix.inspection import inspect

PA = "provisioning-agent"
MATRIX = FIXTURES / "matrix"
EXPECTED = {
    f"{PA}.vhd": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-gpt-vhd-fixed": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-gpt-vhdx-dynamic": "OSStartUp-PROVISIONING_AGENT",
    f"{PA}-dirty-hive-mbr-vhd-dynamic": "OSStartUp-PROVISIONING_AGENT",
    "could-not-finish-configuring-mbr-vhd-dynamic": "OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM",
    "healthy-mbr-vhd-dynamic": None,
}


def sample(name: str, folder: Path) -> Path:
    """A sample disk: ``provisioning-agent.vhd`` from fixtures/ as it is, others from fixtures/matrix/,
    unpacked into ``folder``."""
    if name == f"{PA}.vhd":
        return FIXTURES / name
    found = sorted(MATRIX.glob(f"{name}.*"))
    assert found, name
    return unpack_to(found[0], folder)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the session's unpacked sample disks go into."""
    return tmp_path_factory.mktemp("samples")


@pytest.mark.parametrize(("name", "article"), EXPECTED.items())
def test_sample_diagnosis(name: str, article: str | None, samples: Path) -> None:
    result = inspect(sample(name, samples))
    assert result.error is None
    assert (result.article.id if result.article else None) == article
