"""The writer's committed sample volume matches fixtures/writer/MANIFEST.json (no external tools needed)."""

from __future__ import annotations

import hashlib
import lzma

from tests.support.writer_support import CASES, WRITER_FIXTURES, WRITER_MANIFEST


def test_the_sample_volume_matches_its_manifest() -> None:
    (item,) = WRITER_MANIFEST["files"]
    packed = (WRITER_FIXTURES / item["path"]).read_bytes()
    assert (len(packed), hashlib.sha256(packed).hexdigest()) == (item["size"], item["sha256"])
    raw = lzma.decompress(packed)
    assert (len(raw), hashlib.sha256(raw).hexdigest()) == (item["image_size"], item["image_sha256"])
    assert raw[3:11] == b"NTFS    "  # a bare volume: no partition table


def test_every_case_is_named() -> None:
    assert set(CASES) == {"node_entry", "last_entry", "leaf_entries", "resident_in_root", "resident_in_root_2",
                          "non_resident", "hard_link", "attribute_list", "compressed", "object_id", "hiberfil",
                          "dirty_hive_too_large"}
