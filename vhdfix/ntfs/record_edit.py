"""In-place edits of a fixed-up MFT record: resize a resident value, free the record.

write-path.md §4.2 case A (the resident index root shrinks with its entries:
``ntfs_resident_attr_value_resize`` / ``ntfs_attr_record_resize`` in
ntfs-3g's terms) and §4.3 (``ntfs_mft_record_free``). The caller re-applies
the fixup (:func:`vhdfix.ntfs.fixup_write.protect`) before writing.
"""

from __future__ import annotations

import struct

from vhdfix.ntfs.mft_record import (
    ATTRIBUTE_LENGTH_AT,
    BYTES_IN_USE_AT,
    FLAGS_AT,
    LINK_COUNT_AT,
    RECORD_IN_USE,
    SEQUENCE_NUMBER_AT,
    VALUE_LENGTH_AT,
    Attribute,
    MftRecord,
)


def _align8(number: int) -> int:
    return (number + 7) & ~7


def resize_resident_value(record: bytearray, parsed: MftRecord, attribute: Attribute, value: bytes) -> int:
    """Replace the value of resident ``attribute`` with ``value`` (no longer than the attribute can hold
    after shrinking) and return the number of bytes the record shrank by.

    The attribute's length becomes ``align8(value_offset + value_length)``,
    the attributes after it move down, ``bytes_in_use`` shrinks, and the bytes
    freed at the end of the used part are zeroed.
    """
    if attribute.non_resident:
        raise ValueError("only resident values can be resized in place")
    new_length = _align8(attribute.value_offset + len(value))
    if new_length > attribute.length:
        raise ValueError("growing a resident attribute is not supported")
    shrink = attribute.length - new_length
    head = bytearray(record[attribute.offset:attribute.offset + attribute.value_offset]) + value
    head += bytes(new_length - len(head))
    struct.pack_into("<I", head, ATTRIBUTE_LENGTH_AT, new_length)
    struct.pack_into("<I", head, VALUE_LENGTH_AT, len(value))
    tail = record[attribute.end:parsed.bytes_in_use]
    record[attribute.offset:parsed.bytes_in_use] = head + tail + bytes(shrink)
    struct.pack_into("<I", record, BYTES_IN_USE_AT, parsed.bytes_in_use - shrink)
    return shrink


def next_record_sequence(sequence: int) -> int:
    """The sequence number of a freed record (write-path.md §4.3): 0xFFFF wraps to 1, 0 stays 0, else +1."""
    if sequence == 0xFFFF:
        return 1
    return sequence + 1 if sequence else 0


def free_record(record: bytearray, parsed: MftRecord) -> int:
    """Clear IN_USE, bump the sequence number, set the link count to 0; return the new sequence number."""
    sequence = next_record_sequence(parsed.sequence_number)
    struct.pack_into("<H", record, FLAGS_AT, parsed.flags & ~RECORD_IN_USE)
    struct.pack_into("<H", record, SEQUENCE_NUMBER_AT, sequence)
    struct.pack_into("<H", record, LINK_COUNT_AT, 0)
    return sequence
