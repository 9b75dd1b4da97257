"""The sample disks the copy and repair tests share: the README disk and the matrix of fixtures/."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES, unpack_to

PA = "provisioning-agent"
MATRIX = FIXTURES / "matrix"


def sample(name: str, folder: Path) -> Path:
    """A sample disk: ``provisioning-agent.vhd`` from fixtures/ as it is, others from fixtures/matrix/,
    unpacked into ``folder``."""
    if name == f"{PA}.vhd":
        return FIXTURES / name
    found = sorted(MATRIX.glob(f"{name}.*"))
    assert found, name
    return unpack_to(found[0], folder)
