"""Framework integrations: each records runs with one line in the user's code.

One module per framework, each importing its framework only there (and installed with its
extra, ``pip install 'gitcfg[lightning]'``): ``lightning`` (and ``pytorch_lightning``),
``transformers``, ``keras``, ``hydra``, ``sklearn``. ``session`` and ``plain`` hold what they
share and import no framework. Nothing here is imported by ``import gitcfg``.
"""
