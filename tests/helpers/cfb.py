"""A minimal writer of OLE compound files (MS-CFB version 3), for test fixtures.

Outlook items (``.msg``) are compound files; no maintained Python library writes them,
so the tests build their own here: 512-byte sectors, a mini stream for streams under
4096 bytes, one FAT, no DIFAT beyond the header's 109 entries. Siblings are chained to
the right in the order MS-CFB compares names (length, then upper case), all black: a
valid (if unbalanced) tree, which olefile and Outlook read.
"""

from __future__ import annotations

import struct

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


class _Entry:
    def __init__(self, name: str, kind: int, data: bytes = b"") -> None:
        self.name, self.kind, self.data = name, kind, data
        self.children: dict[str, _Entry] = {}
        self.left = self.right = self.child = NOSTREAM
        self.start, self.size = END, 0


def build_cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams``, keyed by path (``storage/stream``)."""
    root = _Entry("Root Entry", 5)
    for path, data in streams.items():
        node = root
        *storages, leaf = path.split("/")
        for name in storages:
            node = node.children.setdefault(name, _Entry(name, 1))
        node.children[leaf] = _Entry(leaf, 2, data)
    entries: list[_Entry] = []

    def number(node: _Entry) -> None:
        entries.append(node)
        for child in sorted(node.children.values(), key=lambda e: _key(e.name)):
            number(child)

    number(root)
    index = {id(e): i for i, e in enumerate(entries)}
    for node in entries:
        kids = sorted(node.children.values(), key=lambda e: _key(e.name))
        if kids:
            node.child = index[id(kids[0])]
            for a, b in zip(kids, kids[1:], strict=False):
                a.right = index[id(b)]
    # The mini stream (small streams) and the regular sectors (large ones).
    mini = bytearray()
    minifat: list[int] = []
    big: list[_Entry] = []
    for node in entries:
        if node.kind != 2:
            continue
        node.size = len(node.data)
        if node.size >= CUTOFF:
            big.append(node)
        elif node.size:
            node.start = len(mini) // MINI
            count = -(-node.size // MINI)
            minifat += [node.start + i + 1 for i in range(count - 1)] + [END]
            mini += node.data + b"\0" * (count * MINI - node.size)
    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        if not data:
            return END
        start = len(sectors)
        count = -(-len(data) // SECTOR)
        for i in range(count):
            sectors.append(data[i * SECTOR : (i + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(start + i + 1 if i < count - 1 else END)
        return start

    for node in big:
        node.start = place(node.data)
    root.start, root.size = place(bytes(mini)), len(mini)
    minifat_bytes = b"".join(struct.pack("<I", v) for v in minifat)
    if minifat_bytes:
        minifat_bytes += struct.pack("<I", FREE) * ((-len(minifat)) % (SECTOR // 4))
    minifat_start = place(minifat_bytes)
    directory = b"".join(_dir_entry(e) for e in entries)
    directory += _empty_entry() * ((-len(entries)) % (SECTOR // 128))
    dir_start = place(directory)
    fat_count = 1
    while (len(fat) + fat_count) > fat_count * (SECTOR // 4):
        fat_count += 1
    fat_start = len(sectors)
    fat += [FATSECT] * fat_count
    fat += [FREE] * (fat_count * (SECTOR // 4) - len(fat))
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)
    for i in range(fat_count):
        sectors.append(fat_bytes[i * SECTOR : (i + 1) * SECTOR])
    difat = [fat_start + i for i in range(fat_count)] + [FREE] * (109 - fat_count)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack(
            "<IIIIIIIII",
            0,
            fat_count,
            dir_start,
            0,
            CUTOFF,
            minifat_start,
            len(minifat_bytes) // SECTOR,
            END,
            0,
        )
        + b"".join(struct.pack("<I", v) for v in difat)
    )
    return header + b"".join(sectors)


def _dir_entry(e: _Entry) -> bytes:
    name = e.name.encode("utf-16-le")[:62] + b"\0\0"
    return (
        name.ljust(64, b"\0")
        + struct.pack("<HBB", len(name), e.kind, 1)
        + struct.pack("<III", e.left, e.right, e.child)
        + b"\0" * 16
        + b"\0" * 4
        + b"\0" * 16
        + struct.pack("<IQ", e.start if e.size or e.kind == 5 else END, e.size)
    )


def _empty_entry() -> bytes:
    return (
        b"\0" * 64
        + struct.pack("<HBB", 0, 0, 0)
        + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM)
        + b"\0" * 48
    )


def outlook_item(*, sender: str, subject: str, body: str, files: list[tuple[str, bytes]]) -> bytes:
    """An Outlook item (.msg) as Outlook saves one: MAPI properties as streams, each
    attachment a storage with its data and long file name."""

    def text(value: str) -> bytes:
        return value.encode("utf-16-le") + b"\0\0"

    streams = {
        "__substg1.0_001A001F": text("IPM.Note"),
        "__substg1.0_0037001F": text(subject),
        "__substg1.0_1000001F": text(body),
        "__substg1.0_0C1A001F": text(sender.split("@")[0]),
        "__substg1.0_0C1F001F": text(sender),
        "__substg1.0_5D01001F": text(sender),
        "__properties_version1.0": b"\0" * 32,
    }
    for n, (name, data) in enumerate(files):
        storage = f"__attach_version1.0_#{n:08X}"
        streams[f"{storage}/__substg1.0_37010102"] = data
        streams[f"{storage}/__substg1.0_3707001F"] = text(name)
        streams[f"{storage}/__substg1.0_3704001F"] = text(name[:12])
        streams[f"{storage}/__properties_version1.0"] = b"\0" * 8
    return build_cfb(streams)
