"""Where the copy lives until it is verified: an unnamed file on Linux, else a temporary name that records its
writer, so that a later copy can remove what a killed writer left, and only that."""

from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from vhdfix.copy import output
from vhdfix.copy.output import OutputFile
from vhdfix.copy.temporaries import TEMP_MARK, UNKNOWN_BOOT, Owner, owner_of, remove_stale_temporaries, temporary_name
from vhdfix.errors import OutputInvalid

unnamed_only = pytest.mark.skipif(not output.O_TMPFILE, reason="unnamed files (O_TMPFILE) are Linux-only")


def exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def other(digest: str) -> str:
    return f"{(int(digest, 16) + 1) % (1 << 32):08x}"


def test_a_temporary_name_records_its_owner() -> None:
    target = Path("/some/dir/disk.fixed.vhd")
    me = Owner.current()
    name = temporary_name(target, me)
    assert name.startswith(".disk.fixed" + TEMP_MARK) and name.endswith(".vhd")
    assert owner_of(name, target) == me
    assert owner_of(name, Path("/some/dir/disk.vhd")) is None  # another OUT's
    assert owner_of(name, Path("/some/dir/disk.fixed.vhdx")) is None
    assert owner_of(".disk.fixed.vhdfix-1a2b3c4d.vhd", target) is None  # written before owners were recorded
    assert owner_of("disk.fixed.vhd", target) is None


def test_which_owners_have_exited() -> None:
    me = Owner.current()
    parent = replace(me, pid=os.getppid())
    assert not parent.has_exited(me)
    assert not me.has_exited(me)  # this process's own: another copy of it may be writing
    assert replace(me, pid=exited_pid()).has_exited(me)
    assert replace(parent, boot=other(me.boot)).has_exited(me)  # written before the host last started
    assert not replace(me, space=other(me.space), pid=exited_pid()).has_exited(me)  # another host's: unknowable
    unknown = replace(me, boot=UNKNOWN_BOOT)  # where the platform does not tell the boot, the pid decides
    assert not replace(unknown, boot=other(me.boot), pid=os.getppid()).has_exited(unknown)
    assert replace(unknown, pid=exited_pid()).has_exited(unknown)


def test_only_the_temporaries_of_exited_writers_of_this_output_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.vhdx"
    me = Owner.current()
    dead = replace(me, pid=exited_pid())

    def forge(owner: Owner, of: Path = target) -> Path:
        path = tmp_path / temporary_name(of, owner)
        path.write_bytes(b"partial copy")
        return path

    stale = [forge(dead), forge(replace(me, boot=other(me.boot), pid=os.getppid()))]
    kept = [forge(me), forge(replace(me, pid=os.getppid())), forge(replace(dead, space=other(me.space))),
            forge(dead, tmp_path / "another.vhdx")]
    old_style = tmp_path / f".out{TEMP_MARK}1a2b3c4d.vhdx"
    old_style.write_bytes(b"owner unknown")
    directory = tmp_path / temporary_name(target, dead)
    directory.mkdir()
    assert sorted(remove_stale_temporaries(target)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted([*kept, old_style, directory])
    assert remove_stale_temporaries(tmp_path / "absent" / "out.vhdx") == []


def test_outputfile_reports_what_it_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.raw"
    stale = tmp_path / temporary_name(target, replace(Owner.current(), pid=exited_pid()))
    stale.write_bytes(b"partial copy")
    with OutputFile(target) as out:
        assert out.stale_removed == [stale]
        out.write_at(0, b"data")
        out.sync()
        out.commit()
    assert sorted(tmp_path.iterdir()) == [target]


@unnamed_only
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replaced"])
def test_an_unnamed_file_is_only_seen_once_committed(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "out.raw"
    if existing:
        target.write_bytes(b"old")
    with OutputFile(target, replace=existing) as out:
        out.write_at(0, b"new data")
        out.sync()
        assert out.path.read_bytes() == b"new data"  # a new reader, through /proc
        assert [path.name for path in tmp_path.iterdir()] == (["out.raw"] if existing else [])
        out.commit()
    assert target.read_bytes() == b"new data" and list(tmp_path.iterdir()) == [target]


@unnamed_only
def test_without_unnamed_files_on_the_file_system_a_temporary_name_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def no_tmpfile(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if flags & output.O_TMPFILE == output.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_tmpfile)
    target = tmp_path / "out.raw"
    with OutputFile(target) as out:
        assert out.path.parent == tmp_path and owner_of(out.path.name, target) == Owner.current()
        out.write_at(0, b"data")
        out.sync()
        out.commit()
    assert list(tmp_path.iterdir()) == [target]


@unnamed_only
def test_without_proc_a_temporary_name_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_stat = os.stat

    def no_proc(path: str | os.PathLike[str], *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", no_proc)
    with OutputFile(tmp_path / "out.raw") as out:
        assert out.path.parent == tmp_path and TEMP_MARK in out.path.name


@pytest.mark.parametrize("named", [False, True], ids=["unnamed-file", "temporary-name"])
def test_a_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: bool) -> None:
    if named:
        monkeypatch.setattr(output, "O_TMPFILE", 0)
    with pytest.raises(OutputInvalid, match="no such directory"), OutputFile(tmp_path / "absent" / "out.raw"):
        pass
