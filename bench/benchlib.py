"""What the bench scripts share: a git environment, throwaway repositories, configs, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitcfg.provenance import Provenance

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def work_dir(prefix: str) -> Path:
    """A fresh directory for a bench's repositories.

    Not /tmp: on these machines creating a file there costs ~0.3 ms against ~0.03 ms on the disk
    that holds /work and /root, where users' repositories live. GITCFG_BENCH_DIR overrides.
    """
    where = os.environ.get("GITCFG_BENCH_DIR") or str(Path.home() / ".cache" / "gitcfg-bench")
    os.makedirs(where, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=where))


def make_repo(path: Path) -> Path:
    """A code repository with one commit, as a training project would have."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True, env=ENV)
    (path / "train.py").write_text("print('hi')\n")
    subprocess.run(["git", "add", "."], cwd=path, check=True, env=ENV)
    subprocess.run(["git", "commit", "-qm", "code"], cwd=path, check=True, env=ENV)
    # git's auto gc, which gitcfg triggers as git would, runs in the foreground here: a detached
    # gc of a 10,000-run store would otherwise compete with the timings that follow.
    subprocess.run(["git", "config", "gc.autoDetach", "false"], cwd=path, check=True, env=ENV)
    return path


def pack(repo: Path) -> None:
    """Pack the repository, as git's auto gc leaves a store that has held many runs."""
    subprocess.run(["git", "gc", "-q"], cwd=repo, check=True, env=ENV)
    # gc deletes thousands of loose files; on this disk (mounted with discard) the deletes slow
    # every file creation for a while unless flushed now, before anything is timed.
    os.sync()


def config(i: int, keys: int = 20) -> dict[str, object]:
    """A typical run config of ``keys`` keys that differs from run to run."""
    base: dict[str, object] = {f"param_{k:02d}": k * 0.5 + i for k in range(keys - 4)}
    base.update({"model": "resnet", "dataset": f"ds-{i % 7}", "seed": i, "layers": [64, 32, i % 5]})
    return base


def stamped(prov: Provenance, i: int) -> Provenance:
    """The same provenance with its own start time, so each run has its own meta.yaml as in life."""
    return prov._replace(started=f"2026-01-01T00:00:00.{i:06d}+00:00")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def drop_blob_cache(repo: Path) -> None:
    """Delete the blob cache (and its WAL), so the next listing parses every file: a cold cache."""
    from gitcfg.blobcache import FILE_NAME

    for suffix in ("", "-wal", "-shm"):
        (repo / ".git" / "gitcfg" / f"{FILE_NAME}{suffix}").unlink(missing_ok=True)


def file_creation_ms(directories: list[Path], files: int = 200) -> float:
    """Milliseconds to create, write, rename and delete one small file, spread over
    ``directories``, as a loose object is written (the median of ``files``).

    On these machines (ext4 mounted with ``discard``) this cost differs by more than ten times
    between directories of the same disk at the same moment, with a directory's history; a run
    writes about twenty such files, so benches print it beside their figures.
    """
    import time

    samples = []
    for n in range(files):
        directory = directories[n % len(directories)]
        tmp, final = directory / f"tmp_bench_{os.getpid()}_{n}", directory / f"bench_{n}"
        started = time.perf_counter()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, b"x" * 200)
        os.close(fd)
        os.rename(tmp, final)
        samples.append(time.perf_counter() - started)
        os.unlink(final)
    return median_ms(samples)


def object_dirs(repo: Path) -> list[Path]:
    """The loose-object fan-out directories ``repo`` has now."""
    objects = repo / ".git" / "objects"
    return sorted(p for p in objects.iterdir() if len(p.name) == 2 and p.is_dir())
