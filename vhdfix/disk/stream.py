"""A seekable, read-only file object over a virtual disk or a slice of it."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

Range = tuple[int, int]  # (offset, length)


class ReadOnlyStream(io.RawIOBase):
    """File-like view of ``size`` bytes served by ``read_at(offset, length)``.

    dissect.ntfs and the partition readers take any file object; this gives them
    one whose every read goes through vhdfix's exact container readers.
    ``prefetch``, if given, takes :meth:`will_read`'s hints, in the offsets of
    ``read_at``.
    """

    def __init__(self, read_at: Callable[[int, int], bytes], size: int, base: int = 0,
                 prefetch: Callable[[list[Range]], None] | None = None) -> None:
        super().__init__()
        self._read_at = read_at
        self._prefetch = prefetch
        self._base = base
        self.size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        if self._pos >= self.size or size == 0:
            return b""
        size = min(size, self.size - self._pos)
        data = self._read_at(self._base + self._pos, size)
        self._pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    @property
    def takes_hints(self) -> bool:
        """Whether :meth:`will_read` does anything: worth computing the ranges for."""
        return self._prefetch is not None

    def will_read(self, ranges: Iterable[Range]) -> None:
        """A hint: these ranges of the stream will be read soon (a disk in Azure Storage fetches them side by side;
        elsewhere nothing happens)."""
        if self._prefetch is None:
            return
        clipped = [(self._base + offset, min(length, self.size - offset)) for offset, length in ranges
                   if 0 <= offset < self.size and length > 0]
        if clipped:
            self._prefetch(clipped)

    def slice(self, offset: int, size: int) -> ReadOnlyStream:
        """A view of ``size`` bytes starting at ``offset`` of this stream."""
        return ReadOnlyStream(self._read_at, size, self._base + offset, self._prefetch)
