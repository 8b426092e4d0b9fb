"""A run's exact code can always be restored: untracked files and the entry script (SPEC §4)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gitcfg.provenance import MAX_UNTRACKED_FILE
from gitcfg.store import ConfigStore
from tests.conftest import git

TRAIN = "import gitcfg\ngitcfg.init(config={'lr': 0.1}, project='p', id=RUN_ID).finish()\n"


def fresh_repo(path: Path, ignore: str = "") -> Path:
    """A repository whose only commit holds a README (and a .gitignore)."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("readme\n")
    (path / ".gitignore").write_text(ignore)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "readme")
    return path


def run(repo: Path, script: str, run_id: str) -> dict[str, object]:
    """Run ``script`` (a path in the work tree) as ``python script``; return the run's meta."""
    proc = subprocess.run(
        [sys.executable, script],
        cwd=repo,
        env={**os.environ, "RUN_ID": run_id},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return next(r.meta for r in ConfigStore.open(repo).runs() if r.ref.id == run_id)


def script(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("import os\nRUN_ID = os.environ['RUN_ID']\n" + TRAIN)


def snapshot_files(repo: Path, snapshot: object) -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", str(snapshot)).split()


def test_a_never_committed_script_is_in_the_snapshot(tmp_path: Path) -> None:
    repo = fresh_repo(tmp_path / "project", ignore="data/\n*.ckpt\n")
    script(repo / "train.py")
    (repo / "conf.yaml").write_text("h: 1\n")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("1,2\n")
    (repo / "model.ckpt").write_bytes(b"weights")
    (repo / "big.bin").write_bytes(b"x" * (MAX_UNTRACKED_FILE + 1))
    status_before = git(repo, "status", "--porcelain")  # (a status may refresh the index)
    index = repo / ".git" / "index"
    index_before = (index.read_bytes(), index.stat().st_mtime_ns)

    meta = run(repo, "train.py", "r1")
    assert meta["dirty"] is True and meta["snapshot"]
    assert meta["snapshot_left_out"] == ["big.bin"]
    # The exact code comes back from the snapshot; ignored files and big ones stay out.
    assert git(repo, "show", f"{meta['snapshot']}:train.py") == (repo / "train.py").read_text()
    assert snapshot_files(repo, meta["snapshot"]) == [
        ".gitignore",
        "README",
        "conf.yaml",
        "train.py",
    ]
    # The user's index (not even its stat data) and status are as they were.
    assert (index.read_bytes(), index.stat().st_mtime_ns) == index_before
    assert git(repo, "status", "--porcelain") == status_before
    assert (
        git(repo, "rev-parse", f"refs/gitcfg/keep/{meta['snapshot']}").strip() == meta["snapshot"]
    )


def test_an_ignored_entry_script_is_still_in_the_snapshot(tmp_path: Path) -> None:
    repo = fresh_repo(tmp_path / "project", ignore="scratch/\n")
    script(repo / "scratch" / "try.py")
    meta = run(repo, "scratch/try.py", "r1")
    assert meta["dirty"] is True
    assert snapshot_files(repo, meta["snapshot"]) == [".gitignore", "README", "scratch/try.py"]
    assert git(repo, "show", f"{meta['snapshot']}:scratch/try.py").startswith("import os")


def test_clean_stays_clean_and_new_untracked_files_are_seen(tmp_path: Path) -> None:
    repo = fresh_repo(tmp_path / "project", ignore="outputs/\n")
    script(repo / "src" / "train.py")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    (repo / "outputs").mkdir()
    (repo / "outputs" / "log.txt").write_text("ignored\n")
    first = run(repo, "src/train.py", "r1")
    assert first["dirty"] is False and first["snapshot"] is None
    assert "snapshot_left_out" not in first
    assert run(repo, "src/train.py", "r2")["dirty"] is False  # the remembered answer holds

    # A new file next to tracked ones, or in a new directory: the next run sees it.
    (repo / "src" / "helper.py").write_text("X = 1\n")
    third = run(repo, "src/train.py", "r3")
    assert third["dirty"] is True and "src/helper.py" in snapshot_files(repo, third["snapshot"])
    (repo / "src" / "helper.py").unlink()
    assert run(repo, "src/train.py", "r4")["dirty"] is False
    (repo / "extra").mkdir()
    assert run(repo, "src/train.py", "r5")["dirty"] is False  # an empty directory holds no code
    (repo / "extra" / "notes.py").write_text("y = 2\n")
    sixth = run(repo, "src/train.py", "r6")
    assert sixth["dirty"] is True and "extra/notes.py" in snapshot_files(repo, sixth["snapshot"])
    # Ignored output written during a run never makes the next one dirty.
    (repo / "extra" / "notes.py").unlink()
    (repo / "outputs" / "more.txt").write_text("ignored\n")
    assert run(repo, "src/train.py", "r7")["dirty"] is False


def test_a_repository_without_commits_snapshots_its_script(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    script(repo / "train.py")
    meta = run(repo, "train.py", "r1")
    assert meta["code_commit"] is None and meta["dirty"] is True
    assert snapshot_files(repo, meta["snapshot"]) == ["train.py"]
    assert git(repo, "rev-list", "--count", str(meta["snapshot"])).strip() == "1"


def test_the_remembered_answer_survives_output_to_ignored_directories(tmp_path: Path) -> None:
    repo = fresh_repo(tmp_path / "project", ignore="outputs/\n__pycache__/\n")
    script(repo / "src" / "train.py")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    (repo / "outputs").mkdir()
    time.sleep(1.1)  # past the racy second, so the answer may be remembered
    assert run(repo, "src/train.py", "r1")["dirty"] is False
    remembered = repo / ".git" / "gitcfg-no-untracked"
    stamp = remembered.stat().st_mtime_ns
    (repo / "outputs" / "epoch1.ckpt").write_bytes(b"weights")  # what training does
    assert run(repo, "src/train.py", "r2")["dirty"] is False
    assert remembered.stat().st_mtime_ns == stamp  # answered in-process, git not asked
    (repo / "src" / "new.py").write_text("z = 3\n")
    third = run(repo, "src/train.py", "r3")
    assert third["dirty"] is True and "src/new.py" in snapshot_files(repo, third["snapshot"])
