"""The seed images of each fuzz target, from the sample disks in fixtures/ and, when ``VHDFIX_REALDATA`` is
set, from real third-party images and hives. Each seed comes with the units its layout module found."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import struct
import tarfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from uuid import UUID

from tests.fuzz.layouts.archives import tar_units, zip_units
from tests.fuzz.layouts.evtx import evtx_units
from tests.fuzz.layouts.fat import fat_units
from tests.fuzz.layouts.ntfs import _stream_extents, ntfs_units
from tests.fuzz.layouts.partitions import gpt_units, mbr_units
from tests.fuzz.layouts.regf import log_units, primary_units
from tests.fuzz.layouts.vhd import vhd_units
from tests.fuzz.layouts.vhdx import vhdx_units
from tests.fuzz.model import Extent, Field, Seed, Unit, int_fields
from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import (
    PARTIALLY_PRESENT,
    Block,
    LogEntrySpec,
    LogWrite,
    VhdxSpec,
    read_layout,
    write_log,
    write_vhdx,
)
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx_format import HEADER_OFFSETS, MiB
from vhdfix.ntfs import NtfsVolume
from vhdfix.partitions import read_partition_table

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
MATRIX = FIXTURES / "matrix"
SAMPLES = FIXTURES / "samples"
SETUP_EVTX = "Windows\\System32\\winevt\\Logs\\Setup.evtx"
CONFIG = "Windows\\System32\\config"
QCOW2_FIELDS = ((4, 4, "version"), (8, 8, "backing_file_offset"), (16, 4, "backing_file_size"),
                (20, 4, "cluster_bits"), (24, 8, "size"), (32, 4, "crypt_method"), (36, 4, "l1_size"),
                (40, 8, "l1_table_offset"), (48, 8, "refcount_table_offset"), (56, 4, "refcount_table_clusters"),
                (60, 4, "nb_snapshots"), (64, 8, "snapshots_offset"))
VMDK_FIELDS = ((4, 4, "version"), (8, 4, "flags"), (12, 8, "capacity"), (20, 8, "grain_size"),
               (28, 8, "descriptor_offset"), (36, 8, "descriptor_size"), (44, 4, "num_gtes_per_gt"),
               (48, 8, "rgd_offset"), (56, 8, "gd_offset"), (64, 8, "overhead"))


def _unpacked(path: Path) -> bytes:
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def _raw_disk(path: Path, work: Path) -> bytes:
    """The virtual disk inside a fixture container, as a raw image."""
    container = work / path.name.removesuffix(".xz")
    if not container.exists():
        container.write_bytes(_unpacked(path))
    disk = open_disk(container)
    try:
        return disk.read(0, disk.virtual_size)
    finally:
        disk.close()


def _ntfs_partitions(name: str, data: bytes, work: Path) -> list[tuple[int, int]]:
    path = work / f"{name}.layout.img"
    path.write_bytes(data)
    disk = open_disk(path)
    try:
        table = read_partition_table(disk)
        return [(p.offset, p.size) for p in table.partitions if data[p.offset + 3:p.offset + 11] == b"NTFS    "]
    finally:
        disk.close()
        path.unlink()


def _fixture(name: str) -> Path:
    if (FIXTURES / name).exists():
        return FIXTURES / name
    return MATRIX / name


# --- containers --------------------------------------------------------------------------------------------------


def vhd_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    pa = (FIXTURES / "provisioning-agent.vhd").read_bytes()
    fixed = _unpacked(MATRIX / "healthy-mbr-vhd-fixed.vhd.xz")
    seeds = [Seed("vhd/dynamic", {"disk.vhd": pa}, "disk.vhd", vhd_units("disk.vhd", pa), truncatable=True),
             Seed("vhd/fixed", {"disk.vhd": fixed}, "disk.vhd", vhd_units("disk.vhd", fixed), truncatable=True)]
    unique_id = pa[-512 + 68:-512 + 84]
    size = struct.unpack_from(">Q", pa, len(pa) - 512 + 48)[0]
    spec = VhdSpec(size, b"C" * 16, {sector: bytes([sector % 251]) * 512 for sector in range(5000, 5200, 3)},
                   parent_unique_id=unique_id, parent_name="parent.vhd",
                   locators=[(b"W2ru", ".\\parent.vhd"), (b"W2ku", "C:\\images\\parent.vhd")])
    write_vhd(work / "child.vhd", spec)
    child = (work / "child.vhd").read_bytes()
    seeds.append(Seed("vhd/differencing", {"child.vhd": child, "parent.vhd": pa}, "child.vhd",
                      vhd_units("child.vhd", child) + [_weighted(u, 0.3) for u in vhd_units("parent.vhd", pa)],
                      truncatable=True))
    if realdata is not None:
        dfvfs = realdata / "log2timeline+dfvfs/test_data"
        for name in ("ext2.vhd", "fat-differential.vhd"):
            data = (dfvfs / name).read_bytes()
            seeds.append(Seed(f"vhd/{name}", {name: data}, name, vhd_units(name, data), truncatable=True))
        child, parent = (dfvfs / "image-differential.vhd").read_bytes(), (dfvfs / "image.vhd").read_bytes()
        seeds.append(Seed("vhd/image-differential", {"image-differential.vhd": child, "image.vhd": parent},
                          "image-differential.vhd", vhd_units("image-differential.vhd", child), truncatable=True))
    return seeds


def _weighted(unit: Unit, weight: float) -> Unit:
    unit.weight *= weight
    return unit


def _vhdx_with_log(base: bytes, work: Path) -> bytes:
    """``base`` with a pending log whose entries rewrite the BAT page and zero an unused log-free area."""
    path = work / "logged.vhdx"
    path.write_bytes(base)
    with open(path, "rb") as handle:
        layout = read_layout(handle)
    page = base[layout.bat_offset:layout.bat_offset + 4096]
    size = len(base)
    entries = [LogEntrySpec(0, 20, 0, [LogWrite(layout.bat_offset, page)], size, size),
               LogEntrySpec(8192, 21, 0, [LogWrite(layout.bat_offset, page),
                                          LogWrite(HEADER_OFFSETS[1] + 65536, zero_length=4096)], size, size)]
    write_log(path, entries, UUID("5d0b0b3e-5a1e-4f4e-9c59-6d7a3e0c2b11"))
    return path.read_bytes()


def vhdx_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    base = _unpacked(MATRIX / "provisioning-agent-gpt-vhdx-dynamic.vhdx.xz")
    logged = _vhdx_with_log(base, work)
    seeds = [Seed("vhdx/dynamic", {"disk.vhdx": base}, "disk.vhdx", vhdx_units("disk.vhdx", base), truncatable=True),
             Seed("vhdx/logged", {"disk.vhdx": logged}, "disk.vhdx", vhdx_units("disk.vhdx", logged),
                  truncatable=True)]
    header = base[HEADER_OFFSETS[1]:HEADER_OFFSETS[1] + 4096]
    if struct.unpack_from("<Q", base, HEADER_OFFSETS[0] + 8)[0] > struct.unpack_from("<Q", header, 8)[0]:
        header = base[HEADER_OFFSETS[0]:HEADER_OFFSETS[0] + 4096]
    linkage = UUID(bytes_le=header[32:48])
    size = _vhdx_virtual_size(base)
    spec = VhdxSpec(size, block_size=2 * MiB, parent_locator={"parent_linkage": f"{{{linkage}}}",
                                                             "relative_path": ".\\parent.vhdx",
                                                             "absolute_win32_path": "C:\\vms\\parent.vhdx"},
                    blocks={1: Block(PARTIALLY_PRESENT, bytes(range(256)) * 16, frozenset({0, 3, 5}))})
    write_vhdx(work / "child.vhdx", spec)
    child = (work / "child.vhdx").read_bytes()
    seeds.append(Seed("vhdx/differencing", {"child.vhdx": child, "parent.vhdx": base}, "child.vhdx",
                      vhdx_units("child.vhdx", child) + _locator_units(child), truncatable=True))
    if realdata is not None:
        discutils = realdata / "LTRData+DiscUtils/Tests/LibraryTests"
        for relative in ("Vhdx/Data/vhdx-log-replay.vhdx.gz", "Swap/Data/swap.vhdx.gz"):
            data = _unpacked(discutils / relative)
            name = Path(relative).name.removesuffix(".gz")
            seeds.append(Seed(f"vhdx/{name}", {name: data}, name, vhdx_units(name, data), truncatable=True))
    return seeds


def _vhdx_virtual_size(data: bytes) -> int:
    meta_at = 2 * MiB
    for index in range(struct.unpack_from("<I", data, 192 * 1024 + 8)[0]):
        guid, offset, _, _ = struct.unpack_from("<16sQII", data, 192 * 1024 + 16 + 32 * index)
        if UUID(bytes_le=guid) == UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E"):
            meta_at = offset
    for index in range(struct.unpack_from("<H", data, meta_at + 10)[0]):
        guid, offset, _, _ = struct.unpack_from("<16sIII", data, meta_at + 32 + 32 * index)
        if UUID(bytes_le=guid) == UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8"):
            return struct.unpack_from("<Q", data, meta_at + offset)[0]
    raise ValueError("no virtual disk size item")


def _locator_units(child: bytes) -> list[Unit]:
    """The parent locator's strings, with the child's own name as a replacement (a parent loop)."""
    at = child.find("parent.vhdx".encode("utf-16-le"))
    own = "child.vhdx\0".encode("utf-16-le")
    return [Unit("vhdx.locator.relative_path", "child.vhdx", ((0, at, 22),), replacements=((0, own[:22]),),
                 weight=2)] if at > 0 else []


def dissect_format_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    if realdata is None:
        return []
    dfvfs = realdata / "log2timeline+dfvfs/test_data"
    seeds = []
    for name, fields, big_endian in (("windows_volume.qcow2", QCOW2_FIELDS, True), ("ext2.qcow2", QCOW2_FIELDS, True),
                                     ("ext2.vmdk", VMDK_FIELDS, False)):
        data = (dfvfs / name).read_bytes()
        header = Unit(f"{name}.header", name, ((0, 0, 512),), tuple(int_fields("", 0, fields, big_endian)), weight=3)
        tables = Unit(f"{name}.tables", name, ((0, 512, min(len(data), 1 << 16) - 512),))
        seeds.append(Seed(f"dissect/{name}", {name: data}, name, [header, tables], truncatable=True))
    return seeds


# --- partitions, NTFS and hives on raw disks ------------------------------------------------------------------------


def partition_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    seeds = []
    for source in ("provisioning-agent.vhd", "healthy-gpt-vhd-fixed.vhd.xz"):
        data = _raw_disk(_fixture(source), work)
        units = mbr_units("disk.img", data) + gpt_units("disk.img", data)
        seeds.append(Seed(f"partitions/{source.split('.')[0]}", {"disk.img": data}, "disk.img", units))
    if realdata is not None:
        dfir = realdata / "msuhanov+dfir_ntfs/test_data"
        with tarfile.open(dfir / "mbr-win-512.raw.tgz") as archive:
            member = next(m for m in archive.getmembers() if m.isfile())
            extracted = archive.extractfile(member)
            assert extracted is not None
            windows = extracted.read()
        for name, data in (("mbr-win-512", windows), ("mbr-512-p1e2", _unpacked(dfir / "mbr-512-p1e2.bin.gz")),
                           ("gpt-512-3p", _unpacked(dfir / "gpt-512-3p.raw.gz"))):
            units = mbr_units("disk.img", data) + gpt_units("disk.img", data)
            seeds.append(Seed(f"partitions/{name}", {"disk.img": data}, "disk.img", units))
    return seeds


def linux_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    """A disk with no Windows volume: the ext4 superblock decides between linux.root and no-windows-volume."""
    data = _raw_disk(SAMPLES / "linux-ext4.vhd.xz", work)
    superblock = Unit("ext4.superblock", "disk.img", ((0, 1024 * 1024 + 1024, 1024),),
                      (Field(56, 2, "s_magic", hints=(0xEF53, 0)),), weight=2)
    return [Seed("linux/ext4", {"disk.img": data}, "disk.img", [*mbr_units("disk.img", data), superblock])]


def fat_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    """ESPs holding the BCD: FAT32 (the Gen2 safe-boot sample) and FAT12 (a Gen2 matrix disk)."""
    seeds = []
    for source in (SAMPLES / "safeboot-gen2.vhd.xz", MATRIX / "healthy-gpt-vhd-fixed.vhd.xz"):
        data = _raw_disk(source, work)
        units = fat_units("disk.img", data, 1024 * 1024, _esp_size(data), "EFI\\Microsoft\\Boot\\BCD")
        seeds.append(Seed(f"fat/{source.name.split('.')[0]}", {"disk.img": data}, "disk.img", units))
    return seeds


def _esp_size(data: bytes) -> int:
    """The first GPT entry's size (the ESP, at 1 MiB on every fixture)."""
    first, last = struct.unpack_from("<QQ", data, 1024 + 32)
    return (last - first + 1) * 512


def evtx_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    """The Setup.evtx files of two samples, read off their Windows volumes."""
    seeds = []
    for sample in ("working-on-features", "healthy-serviced"):
        data = _raw_disk(SAMPLES / f"{sample}.vhd.xz", work)
        offset, size = _ntfs_partitions(sample, data, work)[-1]
        found = NtfsVolume(_BytesStream(data[offset:offset + size]), sample).read_file(SETUP_EVTX, 1 << 24)
        assert found is not None
        seeds.append(Seed(f"evtx/{sample}", {"Setup.evtx": found[0]}, "Setup.evtx",
                          evtx_units("Setup.evtx", found[0])))
    return seeds


def ntfs_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    seeds = []
    for source in ("provisioning-agent.vhd", "provisioning-agent-dirty-hive-gpt-vhd-fixed.vhd.xz"):
        data = _raw_disk(_fixture(source), work)
        units = []
        for offset, size in _ntfs_partitions(source, data, work):
            units += ntfs_units("disk.img", data, offset, size)
        seeds.append(Seed(f"ntfs/{source.split('.')[0]}", {"disk.img": data}, "disk.img", units))
    if realdata is not None:
        for name in ("ntfs_index.raw.gz", "ntfs3_attrlist.raw.gz"):
            data = _unpacked(realdata / "msuhanov+dfir_ntfs/test_data" / name)
            units = []
            for offset, size in _ntfs_partitions(name, data, work):
                units += ntfs_units("disk.img", data, offset, size)
            seeds.append(Seed(f"ntfs/{name}", {"disk.img": data}, "disk.img", units))
    return seeds


def _hive_units(data: bytes, offset: int, size: int, label: str) -> list[Unit]:
    """Units of the SYSTEM and SOFTWARE hives (and logs) of the NTFS volume at ``offset``, through its data runs."""
    volume = NtfsVolume(_BytesStream(data[offset:offset + size]), label)
    units: list[Unit] = []
    for name in ("SYSTEM", "SOFTWARE", "SYSTEM.LOG1", "SOFTWARE.LOG1"):
        record = volume.record(f"{CONFIG}\\{name}")
        if record is None or record.resident:
            continue
        runs = record.dataruns()
        content = record.open().read()
        to_extents = partial(_stream_extents, runs, volume.cluster_size, offset)
        if name.endswith(".LOG1"):
            units += log_units("disk.img", content, to_extents, name)
        else:
            units += primary_units("disk.img", content, to_extents, name)
    return units


def _identity(start: int, length: int) -> tuple[Extent, ...]:
    return ((0, start, length),)


class _BytesStream(io.BytesIO):
    """A BytesIO with the ``slice``/``size``/``takes_hints`` a vhdfix NtfsVolume expects of its stream."""

    @property
    def size(self) -> int:
        return len(self.getbuffer())

    def slice(self, offset: int, size: int) -> io.BytesIO:
        return io.BytesIO(self.getvalue()[offset:offset + size])

    takes_hints = False  # ReadOnlyStream.takes_hints: bytes in memory need no read hints


def registry_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    seeds = []
    for source in ("provisioning-agent.vhd", "provisioning-agent-dirty-hive-mbr-vhd-fixed.vhd.xz"):
        data = _raw_disk(_fixture(source), work)
        units = []
        for offset, size in _ntfs_partitions(source, data, work):
            units += _hive_units(data, offset, size, source)
        seeds.append(Seed(f"registry/{source.split('.')[0]}", {"disk.img": data}, "disk.img", units))
    return seeds


def hive_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    """Hive files with their logs, for the component-level target (no disk around them)."""
    groups: list[tuple[str, dict[str, bytes]]] = []
    pa = _raw_disk(FIXTURES / "provisioning-agent.vhd", work)
    offset, size = _ntfs_partitions("pa", pa, work)[-1]
    volume = NtfsVolume(_BytesStream(pa[offset:offset + size]), "fixture")
    for name in ("SYSTEM", "SOFTWARE"):
        found = volume.read_file(f"{CONFIG}\\{name}", 1 << 30)
        assert found is not None
        groups.append((f"fixture-{name}", {name: found[0]}))
    pending = _raw_disk(SAMPLES / "pending-updates.vhd.xz", work)
    offset, size = _ntfs_partitions("pending", pending, work)[-1]
    software = NtfsVolume(_BytesStream(pending[offset:offset + size]), "fixture").read_file(f"{CONFIG}\\SOFTWARE",
                                                                                            1 << 30)
    assert software is not None
    groups.append(("SOFTWARE-cbs-pending", {"SOFTWARE": software[0]}))  # CBS Packages with CurrentState values
    safeboot = _raw_disk(SAMPLES / "safeboot-gen1.vhd.xz", work)
    offset, size = _ntfs_partitions("safeboot", safeboot, work)[0]  # System Reserved
    reserved = NtfsVolume(_BytesStream(safeboot[offset:offset + size]), "fixture")
    bcd, bcd_log = reserved.read_file("Boot\\BCD", 1 << 24), reserved.read_file("Boot\\BCD.LOG1", 1 << 24)
    assert bcd is not None and bcd_log is not None
    groups.append(("BCD-safeboot", {"BCD": bcd[0], "BCD.LOG1": bcd_log[0]}))  # dirty: the element is in the log
    if realdata is not None:
        regipy = realdata / "mkorman90+regipy/regipy_tests/data"
        groups.append(("SYSTEM_B", {"SYSTEM": _unpacked(regipy / "SYSTEM_B.xz"),
                                    "SYSTEM.LOG1": _unpacked(regipy / "SYSTEM_B.LOG1.xz"),
                                    "SYSTEM.LOG2": _unpacked(regipy / "SYSTEM_B.LOG2.xz")}))
        groups.append(("SYSTEM-win7", {"SYSTEM": _unpacked(regipy / "SYSTEM.xz")}))
        yarp = realdata / "msuhanov+yarp/hives_for_tests"
        for folder, stem in (("NewDirtyHive1", "NewDirtyHive"), ("BadLogHive1", "BadLogHive")):
            files = {"SYSTEM": (yarp / folder / stem).read_bytes()}
            for suffix in (".LOG1", ".LOG2"):
                if (yarp / folder / (stem + suffix)).stat().st_size:
                    files["SYSTEM" + suffix] = (yarp / folder / (stem + suffix)).read_bytes()
            groups.append((folder, files))
    seeds = []
    for label, files in groups:
        units: list[Unit] = []
        for name, content in files.items():
            maker = log_units if ".LOG" in name else primary_units
            units += maker(name, content, _identity, name)
        main = next(name for name in files if ".LOG" not in name)
        seeds.append(Seed(f"hive/{label}", files, main, units))
    return seeds


def archive_seeds(work: Path, realdata: Path | None) -> list[Seed]:
    """Acquire collections (tar, zip) of the README sample's Windows files, opened through dissect.target."""
    from dissect.target import Target

    from tests.support.windows_tree import acquire_tar, acquire_zip, copy_windows_tree

    tree = copy_windows_tree(FIXTURES / "provisioning-agent.vhd", work / "tree")
    tar = acquire_tar(tree, work / "collection.tar")
    Target.open(tar)  # dissect builds its plugin registry once (about a second), not inside the first input
    seeds = [Seed("archives/tar", {tar.name: tar.read_bytes()}, tar.name, tar_units(tar.name, tar.read_bytes()),
                  truncatable=True)]
    archive = acquire_zip(tree, work / "collection.zip")
    seeds.append(Seed("archives/zip", {archive.name: archive.read_bytes()}, archive.name,
                      zip_units(archive.name, archive.read_bytes()), truncatable=True))
    return seeds


SEED_SETS: dict[str, Callable[[Path, Path | None], list[Seed]]] = {
    "vhd": vhd_seeds,
    "vhdx": vhdx_seeds,
    "dissect-formats": dissect_format_seeds,
    "partitions": partition_seeds,
    "ntfs": ntfs_seeds,
    "fat": fat_seeds,
    "linux": linux_seeds,
    "evtx": evtx_seeds,
    "registry": registry_seeds,
    "hive": hive_seeds,
    "archives": archive_seeds,
}


def realdata_root() -> Path | None:
    root = os.environ.get("VHDFIX_REALDATA")
    return Path(root) if root and Path(root).is_dir() else None

