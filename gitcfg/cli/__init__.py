"""The ``gitcfg`` command line.

``main`` is the console script's entry. The common forms of ``gitcfg run`` and ``gitcfg sweep``
start without click (``gitcfg.cli.runcommand``: job scripts start it thousands of times;
``gitcfg.cli.sweepcommand``); every other command line goes through the click commands of
``gitcfg.cli.commands``. Nothing imports this package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``gitcfg`` console script and ``python -m gitcfg``."""
    args = list(sys.argv[1:] if argv is None else argv)
    from gitcfg.cli.runcommand import end_parsed, parse, run_parsed

    parsed = parse(args)
    if parsed is not None:
        run_parsed(parsed, own_process=argv is None)
    from gitcfg.cli.sweepcommand import parse as parse_sweep
    from gitcfg.cli.sweepcommand import sweep_parsed

    swept = parse_sweep(args)
    if swept is not None:
        end_parsed(lambda: sweep_parsed(swept), own_process=argv is None)
    from gitcfg.cli.commands import main as click_main

    click_main(args)
