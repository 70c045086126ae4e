"""A message's leaf parts, walked with a stack instead of recursion so that hostile
nesting costs a bounded amount of work: past the depth or part cap the walk stops and
counts a defect, and the message is still read from what was found (issue 13)."""

from __future__ import annotations

from email.message import Message


def mime_leaves(msg: Message, *, max_depth: int, max_parts: int) -> tuple[list[Message], int]:
    """The leaf parts in order, without recursion, within the depth and part caps."""
    leaves: list[Message] = []
    defects = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > max_parts * 4 or len(leaves) >= max_parts:
            defects += 1
            break
        if part.is_multipart():
            if depth >= max_depth:
                defects += 1
                continue
            children = part.get_payload()
            if isinstance(children, list):
                defects += int(len(children) > max_parts)
                stack.extend((child, depth + 1) for child in reversed(children[: max_parts])
                             if isinstance(child, Message))
            continue
        leaves.append(part)
    return leaves, defects
