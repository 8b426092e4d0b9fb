"""Who commits: names and emails cleaned the way git cleans them, and signature lines.

git strips "crud" (control characters, space and ``.,:;<>"\\'``) from both ends of a name or
email and drops ``<``, ``>`` and newlines inside, so that an identity can never break the
``name <email> time zone`` line that ``git fsck`` and receiving servers check.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import NamedTuple

_CRUD = frozenset(".,:;<>\"\\'")
_DELIMITERS = str.maketrans("", "", "\n<>")


def _is_crud(char: str) -> bool:
    return ord(char) <= 32 or char in _CRUD


def clean(text: str) -> str:
    """``text`` as git records it in an identity line (``strbuf_addstr_without_crud``)."""
    start, end = 0, len(text)
    while start < end and _is_crud(text[start]):
        start += 1
    while end > start and _is_crud(text[end - 1]):
        end -= 1
    return text[start:end].translate(_DELIMITERS)


class Identity(NamedTuple):
    name: str
    email: str

    def signature(self, when: float | None = None) -> str:
        """``Name <email> <seconds> <+zone>``, name and email cleaned as git does."""
        now = time.time() if when is None else when
        offset = time.localtime(now).tm_gmtoff
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"{clean(self.name)} <{clean(self.email)}> {int(now)} {sign}{hours:02d}{minutes:02d}"


FALLBACK_IDENTITY = Identity("gitcfg", "gitcfg@localhost")


def identity_from(config: Mapping[str, str]) -> Identity:
    """The committer git would use (environment, then ``user.*`` config), else gitcfg's own.

    A name that cleans to nothing (git refuses to commit with one) falls back to gitcfg's name,
    so that recording a run never fails over an identity.
    """
    name = os.environ.get("GIT_COMMITTER_NAME") or config.get("user.name") or ""
    email = os.environ.get("GIT_COMMITTER_EMAIL") or config.get("user.email") or ""
    return Identity(
        name if clean(name) else FALLBACK_IDENTITY.name,
        email if clean(email) else FALLBACK_IDENTITY.email,
    )
