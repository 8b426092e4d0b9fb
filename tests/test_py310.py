"""gitcfg runs on Python 3.10: its patterns use no possessive quantifier or atomic group (3.10
cannot compile them; 3.11.0-3.11.4 match them wrongly, CPython gh-106052)."""

from __future__ import annotations

import ast
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitcfg.flatjson import fast_json_many, plain_lines
from gitcfg.linecells import cells_of
from gitcfg.yamlcodec import dump_config

ROOT = Path(__file__).resolve().parent.parent
# X*+ X++ X?+ X{m,n}+ and (?>...): a quantifier right after something it repeats, then '+'
_POSSESSIVE = re.compile(r"(?<=[^*+?\\])[*+?}]\+|\(\?>")


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module (an f-string's literal parts too), with their lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_possessive_quantifier_or_atomic_group_in_gitcfg() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted((ROOT / "gitcfg").rglob("*.py"))
        for line, text in _strings(path)
        if _POSSESSIVE.search(text)
    ]
    assert found == []


def test_the_scan_sees_each_form() -> None:
    for pattern in (r"[0-9]*+\n", r"(?:a\n)++", r"-?+1", r"[0-9]{2,}+\.", r"(?>a|b)"):
        assert _POSSESSIVE.search(pattern), pattern
    for text in ("+++ b/file", r"e[-+][0-9]+", r"[ !#-&(-+\--9]", "a\\++"):
        assert not _POSSESSIVE.search(text), text


def _texts() -> list[str]:
    """Config files as dump_config writes them, of each kind of value, a few not in the plain
    form, and enough of one shape for gitcfg.flatshapes to take them."""
    texts = [
        dump_config(
            {
                "model": {"lr": 10.0**-i, "layers": [64, i, 0], "name": f"net-{i}"},
                "seed": i,
                "tag": "yes" if i % 3 == 0 else f"run {i}: a, b",
                "scale": float("inf") if i % 5 == 0 else -0.0,
                "extra": None if i % 2 else {},
                "words": ["a", "b.c", "true"],
                "big": 1.2345678901234567e300 * i,
            }
        )
        for i in range(40)
    ]
    return [*texts, "a: 01\n", "a: [1,2]\n", "a..b: 1\n", "a: 'x'y'\n", "{}\n", "a: 1"]


def _python_310() -> str | None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the tests' HOME is a temporary one
    pyenv = sorted(home.glob(".pyenv/versions/3.10*/bin/python3.10"))
    candidates = [shutil.which("python3.10"), *pyenv]
    for python in candidates:
        if python is not None:
            check = [str(python), "-c", "import sys; assert sys.version_info[:2] == (3, 10)"]
            if subprocess.run(check, capture_output=True, check=False).returncode == 0:
                return str(python)
    return None


_CHILD = """
import json, sys
from gitcfg.flatjson import fast_json_many, plain_lines
from gitcfg.linecells import cells_of
texts = json.load(sys.stdin)
values = [line.partition(": ")[2] for text in texts for line in text.splitlines()]
print(json.dumps([
    fast_json_many(texts), plain_lines(texts), [cells_of(values[k::7]) for k in range(7)]
]))
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="this is the run under Python 3.10")
def test_python_310_reads_config_files_as_this_python_does() -> None:
    python = _python_310()
    if python is None:
        pytest.skip("no Python 3.10 here (python3.10 on PATH, or pyenv's)")
    texts = _texts()
    values = [line.partition(": ")[2] for text in texts for line in text.splitlines()]
    expected = [
        fast_json_many(texts),
        plain_lines(texts),
        [cells_of(values[k::7]) for k in range(7)],
    ]
    # the modules read only the standard library: the checkout itself, no install needed
    child = subprocess.run(
        [python, "-c", _CHILD],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == json.loads(json.dumps(expected))
