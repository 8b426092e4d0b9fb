"""Who commits: author and committer taken as git takes them, cleaned as git cleans them.

git strips "crud" (control characters, space and ``.,:;<>"\\'``) from both ends of a name or
email and drops ``<``, ``>`` and newlines inside, so that an identity can never break the
``name <email> time zone`` line that ``git fsck`` and receiving servers check.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from gitcfg.errors import RepositoryError
from gitcfg.git.process import run_git

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
    # "<seconds> <zone>", as git read GIT_AUTHOR_DATE or GIT_COMMITTER_DATE; None: the time
    # of each commit
    date: str | None = None

    def signature(self, when: float | None = None) -> str:
        """``Name <email> <seconds> <+zone>``, name and email cleaned as git does."""
        return f"{clean(self.name)} <{clean(self.email)}> {self.date or _stamp(when)}"


class Signers(NamedTuple):
    """Who a commit names: its author and its committer (who also signs reflog entries)."""

    author: Identity
    committer: Identity


def _stamp(when: float | None) -> str:
    now = time.time() if when is None else when
    offset = time.localtime(now).tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{int(now)} {sign}{hours:02d}{minutes:02d}"


FALLBACK_IDENTITY = Identity("gitcfg", "gitcfg@localhost")

# git's own raw form, "@<seconds> <zone>" (date.c match_object_header_date), read in-process
_RAW_DATE = re.compile(r"@([0-9]+) ([+-][0-9]{2}[0-5][0-9])")

DateReader = Callable[[str, str], str]


def signers_from(config: Mapping[str, str], read_date: DateReader) -> Signers:
    """The author and committer git would write (ident.c): ``GIT_AUTHOR_*`` and
    ``GIT_COMMITTER_*`` from the environment, then ``author.*`` and ``committer.*``, then
    ``user.*`` config (and ``$EMAIL``), else gitcfg's own identity.

    A name or email that cleans to nothing (git refuses to commit with one) falls back to
    gitcfg's, so that recording a run never fails over an identity. ``read_date`` turns
    ``GIT_AUTHOR_DATE``/``GIT_COMMITTER_DATE`` (variable, value) into ``<seconds> <zone>``.
    """
    env = os.environ
    user_name = config.get("user.name") or ""
    user_email = config.get("user.email") or ""
    if not any(key in config for key in ("user.email", "author.email", "committer.email")):
        user_email = env.get("EMAIL") or ""  # git's last resort, when no email is configured

    def signer(role: str) -> Identity:
        upper = role.upper()
        name = env.get(f"GIT_{upper}_NAME") or config.get(f"{role}.name") or user_name
        email = env.get(f"GIT_{upper}_EMAIL") or config.get(f"{role}.email") or user_email
        date = env.get(f"GIT_{upper}_DATE")
        return Identity(
            name if clean(name) else FALLBACK_IDENTITY.name,
            email if clean(email) else FALLBACK_IDENTITY.email,
            read_date(f"GIT_{upper}_DATE", date) if date else None,
        )

    return Signers(signer("author"), signer("committer"))


def git_date(variable: str, value: str, cwd: str | os.PathLike[str]) -> str:
    """``value`` of ``GIT_AUTHOR_DATE`` or ``GIT_COMMITTER_DATE`` as git writes it in a
    commit: ``<seconds> <zone>``. Git's raw form is read here; any other (ISO 8601, RFC 2822,
    a date without a zone) is left to git itself, so that it means what it means to git."""
    raw = _RAW_DATE.fullmatch(value)
    if raw is not None:
        return f"{int(raw.group(1))} {raw.group(2)}"
    role = variable.split("_")[1]  # AUTHOR or COMMITTER
    env = {f"GIT_{role}_NAME": "gitcfg", f"GIT_{role}_EMAIL": "gitcfg@localhost", variable: value}
    proc = run_git(["var", f"GIT_{role}_IDENT"], cwd, env=env, check=False)
    said = proc.stdout.decode(errors="replace").strip().rsplit(" ", 2)
    if proc.returncode != 0 or len(said) != 3:
        raise RepositoryError(
            f"{variable}={value!r} is not a date git reads; unset it, or give one such as "
            f"'@1700000000 +0000' or '2024-01-31T12:00:00+01:00'"
        )
    return f"{said[1]} {said[2]}"
