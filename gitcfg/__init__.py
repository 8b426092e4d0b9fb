"""gitcfg: run configs recorded as commits on a branch of your own git repository."""

from __future__ import annotations

__version__ = "0.1.0"
