"""Structure-level mutation: seeds described as units of fields, and inputs as patches on the seed's files.

A *unit* is one on-disk structure (a VHD footer, a VHDX region table, an MFT
record, a hive cell, an HvLE entry...). It names the bytes it occupies in a
seed file (``extents``, possibly scattered, as for an MFT record spread over
data runs), the integer fields a parser reads from it, and how to make a
mutated copy pass the parser's integrity checks (``seal``: recompute a
checksum, re-apply NTFS fixups). ``unseal`` turns the stored bytes into the
form the fields refer to (NTFS records: fixups applied).

An input is a list of byte patches on the seed's files (and, rarely, a
truncation), so it can be applied to a working copy and reverted cheaply, and
saved as a file for the regression corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Extent = tuple[int, int, int]  # (offset in the unit, offset in the file, length)
SEAL_PROBABILITY = 0.9  # the rest keep a broken checksum or fixup, to exercise the checks themselves


@dataclass(frozen=True)
class Field:
    """An integer a parser reads: ``size`` bytes at ``offset`` of the unit."""

    offset: int
    size: int
    name: str
    big_endian: bool = False
    hints: tuple[int, ...] = ()  # meaningful values: its own position (a cycle), other structures' positions

    def read(self, data: bytes | bytearray) -> int:
        return int.from_bytes(data[self.offset:self.offset + self.size], "big" if self.big_endian else "little")

    def write(self, data: bytearray, value: int) -> None:
        value &= (1 << (8 * self.size)) - 1
        data[self.offset:self.offset + self.size] = value.to_bytes(self.size, "big" if self.big_endian else "little")


@dataclass
class Unit:
    name: str
    file: str
    extents: tuple[Extent, ...]
    fields: tuple[Field, ...] = ()
    seal: Callable[[bytearray], None] | None = None
    unseal: Callable[[bytes], bytes] | None = None
    replacements: tuple[tuple[int, bytes], ...] = ()  # (offset, bytes): whole-value swaps, e.g. a path to itself
    weight: float = 1.0

    @property
    def size(self) -> int:
        return max((start + length for start, _, length in self.extents), default=0)

    def read(self, files: dict[str, bytes]) -> bytes:
        out = bytearray(self.size)
        data = files[self.file]
        for start, at, length in self.extents:
            out[start:start + length] = data[at:at + length].ljust(length, b"\0")
        return bytes(out)

    def patches(self, before: bytes, after: bytes) -> list[Patch]:
        """The file patches that turn ``before`` (the unit as stored) into ``after``."""
        found = []
        for start, at, length in self.extents:
            old, new = before[start:start + length], after[start:start + length]
            if old == new:
                continue
            first = next(i for i in range(length) if old[i] != new[i])
            last = next(i for i in range(length - 1, -1, -1) if old[i] != new[i])
            found.append(Patch(self.file, at + first, bytes(new[first:last + 1])))
        return found


@dataclass(frozen=True)
class Patch:
    file: str
    offset: int
    data: bytes


@dataclass
class Seed:
    """Files to inspect (``main`` is the disk handed to vhdfix; others are its parents or logs)."""

    name: str
    files: dict[str, bytes]
    main: str
    units: list[Unit]
    truncatable: bool = False  # containers: cutting the file short is a meaningful mutation

    def __post_init__(self) -> None:
        self.units = [unit for unit in self.units if unit.size > 0]


@dataclass
class FuzzInput:
    seed: str
    patches: list[Patch] = field(default_factory=list)
    truncate: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def materialise(self, seed: Seed) -> dict[str, bytes]:
        files = {name: bytearray(data) for name, data in seed.files.items()}
        for patch in self.patches:
            target = files[patch.file]
            end = patch.offset + len(patch.data)
            if end > len(target):
                target.extend(bytes(end - len(target)))
            target[patch.offset:end] = patch.data
        for name, length in self.truncate.items():
            del files[name][length:]
        return {name: bytes(data) for name, data in files.items()}


def _interesting(item: Field, original: int, rng: random.Random) -> int:
    bits = 8 * item.size
    top = (1 << bits) - 1
    pool = [0, 1, 2, 3, 4, 7, 8, 16, 0x7F, 0x80, 0xFF, 0x100, 0x200, 0x1000, 0x10000, top, top - 1,
            1 << (bits - 1), (1 << (bits - 1)) - 1, original + 1, original - 1, original * 2, original // 2,
            original ^ (1 << rng.randrange(bits)), rng.getrandbits(bits), 1 << rng.randrange(bits),
            original + rng.choice((-1, 1)) * rng.randrange(1, 64) * 512]
    if item.hints and rng.random() < 0.5:
        return rng.choice(item.hints) & top
    return rng.choice(pool) & top


def _mutate_unit(unit: Unit, logical: bytearray, rng: random.Random, notes: list[str]) -> None:
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        roll = rng.random()
        if unit.fields and roll < 0.7:
            item = rng.choice(unit.fields)
            if item.offset + item.size > len(logical):
                continue
            value = _interesting(item, item.read(logical), rng)
            item.write(logical, value)
            notes.append(f"{unit.name}.{item.name}={value:#x}")
        elif unit.replacements and roll < 0.8:
            offset, data = rng.choice(unit.replacements)
            logical[offset:offset + len(data)] = data
            notes.append(f"{unit.name}: replaced {len(data)} bytes at {offset:#x}")
        elif unit.fields and roll < 0.85:
            source, target = rng.choice(unit.fields), rng.choice(unit.fields)
            target.write(logical, source.read(logical))
            notes.append(f"{unit.name}.{target.name}=.{source.name}")
        else:
            at = rng.randrange(len(logical))
            span = rng.choice((1, 1, 2, 4, 8, 16))
            fill = rng.choice(("flip", "zero", "ones", "random"))
            chunk = logical[at:at + span]
            if fill == "flip":
                chunk = bytes(byte ^ (1 << rng.randrange(8)) for byte in chunk)
            else:
                chunk = {"zero": bytes(len(chunk)), "ones": b"\xff" * len(chunk),
                         "random": rng.randbytes(len(chunk))}[fill]
            logical[at:at + len(chunk)] = chunk
            notes.append(f"{unit.name}: {fill} {len(chunk)} bytes at {at:#x}")


def mutate(seed: Seed, rng: random.Random) -> FuzzInput:
    """One input: 1-3 units mutated at the field level (checksums usually recomputed), rarely a truncation."""
    result = FuzzInput(seed.name)
    if seed.truncatable and rng.random() < 0.05:
        length = len(seed.files[seed.main])
        cut = rng.choice((length - 1, length - 512, length // 2, length - rng.randrange(1, 1 << 20), 512))
        result.truncate[seed.main] = max(0, cut)
        result.notes.append(f"truncated to {max(0, cut)} bytes")
    weights = [unit.weight for unit in seed.units]
    for unit in rng.choices(seed.units, weights, k=rng.choice((1, 1, 1, 2, 3))):
        stored = unit.read(seed.files)
        logical = bytearray(unit.unseal(stored) if unit.unseal else stored)
        _mutate_unit(unit, logical, rng, result.notes)
        if unit.seal is not None:
            if rng.random() < SEAL_PROBABILITY:
                unit.seal(logical)
            else:
                result.notes.append(f"{unit.name}: left unsealed")
        result.patches += unit.patches(stored, bytes(logical))
    return result


def int_fields(prefix: str, base: int, layout: Sequence[tuple[int, int, str]], big_endian: bool = False,
               hints: dict[str, tuple[int, ...]] | None = None) -> list[Field]:
    """Fields from ``(offset, size, name)`` triples relative to ``base``."""
    hints = hints or {}
    return [Field(base + offset, size, f"{prefix}{name}", big_endian, hints.get(name, ()))
            for offset, size, name in layout]
