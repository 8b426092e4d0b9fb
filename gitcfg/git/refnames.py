"""Ref names: which ones git accepts (``git check-ref-format``, refs.c check_refname_format)."""

from __future__ import annotations

import re

# Bytes git refuses anywhere in a ref name: controls, DEL, space and ~ ^ : ? * [ \
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def ref_name_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a full ref name (``refs/heads/x``), or None."""
    if name == "@":
        return "'@' alone names HEAD"
    bad = _FORBIDDEN.search(name)
    if bad is not None:
        return f"it contains {bad.group()!r}"
    for text, reason in (("..", "'..'"), ("@{", "'@{'"), ("//", "an empty part")):
        if text in name:
            return f"it contains {reason}"
    if name.startswith("/") or name.endswith("/"):
        return "it starts or ends with '/'"
    if name.endswith("."):
        return "it ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"its part {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"its part {part!r} ends with '.lock'"
    return None


def branch_name_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a branch name (``git check-ref-format --branch``), or
    None. ``@`` is refused too: git reads it as HEAD, so ``@~1`` would not name the branch."""
    if not name:
        return "it is empty"
    if name.startswith("-"):
        return "it starts with '-'"
    if name in ("HEAD", "@"):
        return f"git reads {name} as the checked-out branch"
    return ref_name_problem(f"refs/heads/{name}")
