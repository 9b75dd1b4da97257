"""The verifier catches a copy that does not hold what the plan promised (it is not a rubber stamp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.writer_support import CASES, copy_of, delete_step, dword, set_step, unpack, writer_cases
from vhdfix.errors import VerificationFailed
from vhdfix.verify import verify_structures
from vhdfix.writer import apply_patches, open_context, plan_actions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def planned_volume(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    volume = writer_cases(tmp_path_factory.mktemp("writer-cases"))
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", CASES["resident_in_root"], CASES["non_resident"],
                                                     *CASES["leaf_entries"])])
    return volume, planned


def _partial(volume: Path, planned: object, tmp_path: Path, skip: str) -> Path:
    """A copy with every patch applied except those whose reason mentions ``skip``."""
    copy = copy_of(volume, tmp_path, "partial.raw")
    patches = [p for p in planned.patches if skip not in p.reason]  # type: ignore[attr-defined]
    assert len(patches) < len(planned.patches)  # type: ignore[attr-defined]
    apply_patches(copy, patches)
    return copy


@pytest.mark.parametrize(("skip", "problem"), [
    ("INDX block", "entry .file0019.txt. still names removed record"),
    ("index-root entry", "entry .ERRORH~1.CMD. still names removed record"),
    ("$MFT:$BITMAP", "still in use in $MFT:$BITMAP"),
    ("free clusters", "still allocated in $Bitmap"),
    ("clear IN_USE", "has flags 0x1"),
])
def test_a_missing_part_of_the_delete_is_reported(planned_volume: tuple[Path, object], tmp_path: Path, skip: str,
                                                  problem: str) -> None:
    volume, planned = planned_volume
    copy = _partial(volume, planned, tmp_path, skip)
    with pytest.raises(VerificationFailed, match=problem.replace("$", r"\$")) as failed:
        verify_structures(copy, planned.expectations)  # type: ignore[attr-defined]
    assert failed.value.code == "verification-failed" and "discard it" in failed.value.message


def test_a_torn_written_block_is_reported(planned_volume: tuple[Path, object], tmp_path: Path) -> None:
    volume, planned = planned_volume
    copy = copy_of(volume, tmp_path, "torn.raw")
    apply_patches(copy, planned.patches)  # type: ignore[attr-defined]
    verify_structures(copy, planned.expectations)  # type: ignore[attr-defined]
    label, ranges = planned.expectations.written_blocks[0]  # type: ignore[attr-defined]
    at, _ = ranges[0]
    with copy.open("r+b") as handle:
        handle.seek(at + 510)
        handle.write(b"\xee\xee")
    with pytest.raises(VerificationFailed, match=f"{label}: torn write"):
        verify_structures(copy, planned.expectations)  # type: ignore[attr-defined]


def test_an_uncommitted_hive_is_reported(tmp_path: Path) -> None:
    source = unpack(FIXTURES / "provisioning-agent.vhd", tmp_path)
    with open_context(source) as context:
        planned = plan_actions(context, [set_step("x", dword("SYSTEM", "Setup", "SetupType", 0))])
    copy = copy_of(source, tmp_path, "copy.vhd")
    apply_patches(copy, [p for p in planned.patches if "commit" not in p.reason])
    with pytest.raises(VerificationFailed, match="sequence 812, planned 813"):
        verify_structures(copy, planned.expectations)
    other = copy_of(source, tmp_path, "other.vhd")
    apply_patches(other, [p for p in planned.patches if "SetupType" not in p.reason])
    with pytest.raises(VerificationFailed, match="SetupType: the cell walk does not read the new data"):
        verify_structures(other, planned.expectations)
