"""Copies and pickles of a run's live mappings (config, a config group, summary) are plain dicts.

A live mapping holds a lock and its run; ``copy.copy``, ``copy.deepcopy`` and pickle (a
multiprocessing worker's argument) take only its values, as wandb's plain dicts would give.
"""

from __future__ import annotations

from typing import Any


class PlainCopies:
    """A mixin: copies and pickles are ``as_dict()``, a plain nested dict of the values."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (self.as_dict(),)

    def __copy__(self) -> dict[str, Any]:
        return self.as_dict()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return self.as_dict()
