"""``gitcfg run``: the run it records, and its common form read without click.

``gitcfg run [--set KEY=VALUE]... [--config FILE] [--project P] [--name N] [--group G] -- CMD``
is what job scripts and SLURM arrays start, often thousands of times, so its start-up is
overhead on every job: importing click is about a third of it (20-35 ms). ``parse`` recognises
exactly that form, with the global options ``--repo``, ``--no-pager`` and ``--color`` before or
after ``run``. Anything else (``--help``, an unknown option, a value that looks like an option,
no ``--``, every mistake) it leaves to click, which owns usage, help and their errors. Both
ways then call the same ``record``.

No click here, and nothing heavy at import: ``gitcfg.cli.main`` imports this module first.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

if TYPE_CHECKING:
    from gitcfg.store import ConfigStore


class RunArgs(NamedTuple):
    """The options and command of one ``gitcfg run``."""

    repo: str | None
    assignments: tuple[str, ...]
    config_file: str | None
    project: str | None
    name: str | None
    group: str | None
    command: tuple[str, ...]


# Options taking a value: the group's (also accepted after the command, as click's copies are),
# then run's own. The flag --no-pager takes none.
GLOBAL_OPTIONS = ("--repo", "--color")
_OWN = ("--set", "--config", "--project", "--name", "--group")
COLORS = ("auto", "always", "never")


def parse(args: Sequence[str]) -> RunArgs | None:
    """``args`` (the words after ``gitcfg``) as a ``run`` of the common form; None for anything
    else, which click then reads."""
    if "_GITCFG_COMPLETE" in os.environ or "--" not in args:
        return None  # shell completion, or a form click reads
    at = list(args).index("--")
    words, command = list(args[:at]), tuple(args[at + 1 :])
    if not command:
        return None
    values: dict[str, str] = {}
    assignments: list[str] = []
    in_run = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "run" and not in_run:
            in_run = True
            continue
        if word == "--no-pager":
            continue
        option, value, i = option_value(words, i)
        if option not in GLOBAL_OPTIONS and not (in_run and option in _OWN):
            return None
        if value is None:
            return None  # no value: click says so
        if value.startswith("-") or (option == "--color" and value not in COLORS):
            return None
        if option == "--set":
            assignments.append(value)
        else:
            values[option] = value  # given twice, the last one counts, as with click
    if not in_run:
        return None
    return RunArgs(
        values.get("--repo"),
        tuple(assignments),
        values.get("--config"),
        values.get("--project"),
        values.get("--name"),
        values.get("--group"),
        command,
    )


def option_value(words: Sequence[str], i: int) -> tuple[str, str | None, int]:
    """The option ``words[i - 1]`` names, its value (``--opt=v``, else the next word; None if
    there is none) and where the next word is."""
    option, equals, value = words[i - 1].partition("=")
    if equals:
        return option, value, i
    if i == len(words):
        return option, None, i
    return option, words[i], i + 1


def record(args: RunArgs, open_store: Callable[[], ConfigStore]) -> int:
    """Record a run of ``args.command``: create the run, run the command in the foreground and
    finish the run; returns the exit status to leave with (the command's).

    The command and the values are checked before the store is opened, so a typo commits
    nothing.
    """
    from gitcfg.flat import flatten
    from gitcfg.override import parse_override
    from gitcfg.sweeps.child import ChildRun, check_command, exit_like, note, run_foreground

    argv = check_command(list(args.command))
    config: dict[str, Any] = {}
    if args.config_file is not None:
        from gitcfg.yamlcodec import load_yaml_mapping

        config.update(flatten(load_yaml_mapping(args.config_file)))
    overrides = dict(parse_override(a) for a in args.assignments)
    config.update(flatten(overrides) if overrides else {})
    meta: dict[str, Any] = {k: v for k, v in (("name", args.name), ("group", args.group)) if v}
    if overrides:
        meta["set"] = sorted(flatten(overrides))  # the values given from outside the program
    child = ChildRun.create(open_store(), argv, config, project=args.project, meta=meta)
    note(f"run {child.ref}")
    return exit_like(run_foreground(child))


def run_parsed(args: RunArgs, *, own_process: bool) -> NoReturn:
    """``record`` for the command line ``parse`` read, ended by ``end_parsed``."""
    if own_process:
        # The process only starts a run, waits and finishes it: the cyclic garbage collector
        # would only walk the start-up's objects (~5 ms). Nothing here needs it.
        gc.disable()

    def call() -> int:
        from gitcfg.stores import open_store  # it commits changes runs kept (gitcfg.pending)

        return record(args, lambda: open_store(args.repo))

    end_parsed(call, own_process=own_process)


def end_parsed(call: Callable[[], int], *, own_process: bool) -> NoReturn:
    """Run ``call`` (a command line read without click) and end as click ends a command: a
    gitcfg error as every command shows it (``Error: <message>``, exit 1 or 2), Ctrl-C before
    the command starts as ``Aborted!`` with 1, else ``call``'s exit status.

    ``own_process``: this process is the ``gitcfg`` command itself (not a caller of
    ``gitcfg.cli.main``), so it may skip Python's teardown (~10 ms): nothing needs it, no
    atexit hook, no thread left, every file closed, the output flushed below.
    """
    from gitcfg.errors import GitcfgError

    try:
        code = call()
    except GitcfgError as error:
        from gitcfg.cli.commands import failure  # click writes it, as for every command

        shown = failure(error)
        shown.show()
        code = shown.exit_code
    except KeyboardInterrupt:
        if sys.stderr is not None:
            sys.stderr.write("\nAborted!\n")
        code = 1
    if not own_process:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: started with the descriptor closed
            with contextlib.suppress(OSError, ValueError):  # closed by the reader
                stream.flush()
    os._exit(code)
