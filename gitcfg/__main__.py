"""``python -m gitcfg``: the same command as ``gitcfg``."""

from __future__ import annotations

from gitcfg.cli import main

if __name__ == "__main__":
    main()
