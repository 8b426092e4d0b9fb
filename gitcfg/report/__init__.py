"""The HTML report (``gitcfg report``): one self-contained page showing how config affects results.

- ``histories``: every run's config versions from one ``git log --raw`` pass over the branch;
- ``shape``: runs, their differing keys, metrics, provenance and histories as the page's JSON;
- ``page``: the page itself (Jinja2 templates, plotly's bundled JavaScript inlined once) — the
  only module importing the optional ``report`` extra;
- ``writer``: the whole command, store to file, written atomically.

Nothing here is imported by ``import gitcfg``; the CLI imports ``writer`` inside its command.
"""
