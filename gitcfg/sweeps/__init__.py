"""Sweeps: many runs of one program over a space of config values (SPEC §3.1).

``spec`` reads wandb's sweep YAML (or the inline ``KEY=V1,V2`` form), ``strategies`` turns it into
points (grid, seeded random, ``bayes`` through optuna in ``bayes``), ``command`` builds the
child's command line from wandb's macros, ``child`` records one run of any program
(``gitcfg run``), ``runner`` drives a sweep (``gitcfg sweep``: shards, ``-j``, resume) and
``agent`` is the in-process ``gitcfg.sweep``/``gitcfg.agent``.

The package is ``sweeps``, not ``sweep``: importing a submodule ``gitcfg.sweep`` would set the
attribute ``gitcfg.sweep`` to that module and hide the function ``gitcfg.sweep(config)``.
"""
