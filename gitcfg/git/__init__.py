"""The git layer: every git process, object and ref that gitcfg touches goes through here.

Hot paths (writing a run) work on the object database and refs in-process, the way git itself
lays them out; everything else runs git plumbing in short-lived subprocesses. One concept a
module, as dulwich splits them:

- ``process``: running git (no hooks, no fsmonitor, no optional locks)
- ``hashes``: SHA-1 and SHA-256 object names
- ``objects``: tree and commit bodies
- ``identity``: author and committer, taken and cleaned as git takes and cleans them
- ``loose``: loose objects, complete before they are named
- ``pack``: packed objects read in-process
- ``catfile``: ``git cat-file --batch``, the reader of last resort
- ``refs``: ref reads and compare-and-swap updates under git's lock files
- ``maintenance``: ``git gc --auto`` started so that it never races gitcfg's writers
- ``repo``: ``GitRepo``, which puts them together

GitPython is not used at run time: its ~90 ms import alone would blow the start-up budget, and
its persistent ``cat-file`` processes are what long-lived training jobs must not accumulate.
"""

from __future__ import annotations

from gitcfg.git.catfile import ObjectReader
from gitcfg.git.hashes import SHA1, SHA256, HashAlgo, is_null
from gitcfg.git.identity import Identity, Signers
from gitcfg.git.objects import Commit, TreeEntry, format_tree, parse_tree
from gitcfg.git.process import git_env, run_git
from gitcfg.git.repo import SETTINGS, GitRepo, default_identity

__all__ = [
    "SETTINGS",
    "SHA1",
    "SHA256",
    "Commit",
    "GitRepo",
    "HashAlgo",
    "Identity",
    "ObjectReader",
    "Signers",
    "TreeEntry",
    "default_identity",
    "format_tree",
    "git_env",
    "is_null",
    "parse_tree",
    "run_git",
]
