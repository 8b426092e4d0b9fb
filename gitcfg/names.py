"""Run ids and project names: what is accepted, and how new ids are made."""

from __future__ import annotations

import os
import re
import secrets

from gitcfg.errors import InvalidNameError

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
ID_LENGTH = 8
MAX_NAME_LENGTH = 128
_IDS = len(_ALPHABET) ** ID_LENGTH  # how many ids there are
_DRAWN = (1 << 64) // _IDS * _IDS  # the 64-bit draws that map evenly onto them


def new_run_id(length: int = ID_LENGTH) -> str:
    """``length`` (default eight) random lowercase base-36 characters, like wandb run ids:
    a valid run id for any length from 1 to ``MAX_NAME_LENGTH``."""
    if length != ID_LENGTH:  # wandb.util.generate_id(length): rare, one draw a character
        return "".join(secrets.choice(_ALPHABET) for _ in range(length))
    # One draw of 64 bits from the system's randomness for all eight characters, not a system
    # call each: its remainder is uniform once the top sliver (1 in 200 million) is drawn again.
    while (number := int.from_bytes(os.urandom(8), "big")) >= _DRAWN:
        pass
    number %= _IDS
    chars = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid run id or project name, else raise InvalidNameError.

    Names become directory names on the store branch, so they must be safe path segments.
    """
    if not isinstance(name, str):
        raise InvalidNameError(kind, repr(name), f"a {kind} must be a string")
    if not name:
        raise InvalidNameError(kind, name, "it is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(kind, name, f"it is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME.fullmatch(name):  # not match(): "$" matches before a final newline
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9_.-]", c)})
        raise InvalidNameError(kind, name, f"it contains {''.join(bad)!r}")
    if name.startswith("."):
        raise InvalidNameError(kind, name, "it starts with '.'")
    if ".." in name:
        raise InvalidNameError(kind, name, "it contains '..'")
    if name.endswith(".lock"):
        raise InvalidNameError(kind, name, "it ends with '.lock'")
    return name


def check_run_id(run_id: object) -> str:
    return check_name("run id", run_id)


def check_project(project: object) -> str:
    return check_name("project name", project)


def project_from_directory(dirname: str) -> str:
    """A valid project name made from a directory name (spaces and the like become '-')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", dirname).strip("-.")
    cleaned = re.sub(r"\.\.+", ".", cleaned)
    return cleaned[:MAX_NAME_LENGTH] or "default"
