"""One recorded run of any program: what ``gitcfg run -- CMD`` and each sweep point do.

The run is created (config = the ``--set`` values) before the child starts. The child gets
``GITCFG_RUN_ID``, ``GITCFG_PROJECT`` and ``GITCFG_REPO`` (so a ``gitcfg.init``/``wandb.init``
in it attaches to this run, whose stored values win over the script's own defaults),
``GITCFG_CONFIG`` (the run's config as JSON, for programs in any language) and
``GITCFG_SUMMARY_FILE`` (a path where it may write its results as YAML or JSON). When the child
ends, one commit records its exit status, duration and end time in ``meta.yaml`` and the
results file as the run's summary.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from gitcfg.errors import GitcfgError, RepositoryError, SecretKeyError, SweepError, SweepSpecError

if TYPE_CHECKING:
    import subprocess

    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore, RunUpdate

# Signals a supervisor sends to stop or notify a job (kill, SLURM, a terminal that closes).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def check_command(argv: Sequence[str]) -> list[str]:
    """``argv`` if its program can be started; else ``SweepSpecError`` (checked before any
    commit, so a typo records nothing)."""
    if not argv:
        raise SweepSpecError(
            "no command to run; put it after '--': gitcfg run --set lr=0.1 -- python train.py"
        )
    program = argv[0]
    if os.sep in program:
        found = os.access(program, os.X_OK) and not os.path.isdir(program)
    else:
        found = shutil.which(program) is not None
    if not found:
        raise SweepSpecError(
            f"program {program!r} not found or not executable; check its name and PATH "
            f"(or run it through its interpreter: python train.py, bash job.sh)"
        )
    return list(argv)


def default_project(store: ConfigStore) -> str:
    """``$GITCFG_PROJECT``, else the repository's directory name (as ``gitcfg.init`` does)."""
    from gitcfg.names import project_from_directory

    named = os.environ.get("GITCFG_PROJECT") or os.environ.get("WANDB_PROJECT")
    if named:
        return named
    common = store.repo.common_dir
    name = common.parent.name if common.name == ".git" else common.name.removesuffix(".git")
    return project_from_directory(name)


class ChildRun:
    """A run created for a child process; ``finish`` records how the child ended."""

    # A plain class, not a dataclass: ``gitcfg run`` starts faster without the dataclasses module.
    def __init__(
        self,
        store: ConfigStore,
        ref: RunRef,
        argv: list[str],
        config: dict[str, Any],
        summary_file: str,
        *,
        json_file: str | None = None,
        own_dir: bool = True,
    ) -> None:
        self.store = store
        self.ref = ref
        self.argv = argv
        self.config = config
        self.summary_file = summary_file
        self.started = time.monotonic()
        self.json_file = json_file
        self.own_dir = own_dir  # the results file's directory is this run's alone (removed after)

    @classmethod
    def create(
        cls,
        store: ConfigStore,
        argv: Sequence[str],
        config: Mapping[str, Any],
        *,
        project: str | None = None,
        meta: Mapping[str, Any] | None = None,
        json_file: str | None = None,
        scratch: str | None = None,
        finishing: RunUpdate | None = None,
    ) -> ChildRun:
        """Create the run (commit "create") for ``argv`` with the flat ``config``.

        ``scratch``: a private directory to put the results file in (a sweep makes one for all
        its points); by default the run gets a temporary directory of its own. ``finishing``
        (another child's ``ending``) is written in the same commit.
        """
        from gitcfg.provenance import capture

        store.check_writable()  # before the snapshot: a refused run writes no keep ref
        provenance = capture(store.code_repo, list(argv))
        ref, _ = store.create(
            project or default_project(store),
            dict(config),
            provenance=provenance,
            meta=dict(meta) if meta else None,
            with_update=finishing,
            writable=True,
        )
        # a private directory: the child creates the file there, or not
        if scratch is None:
            summary_file = os.path.join(tempfile.mkdtemp(prefix=f"gitcfg-{ref.id}-"), "summary")
        else:
            summary_file = os.path.join(scratch, f"{ref.id}.summary")
        return cls(
            store,
            ref,
            list(argv),
            dict(config),
            summary_file,
            json_file=json_file,
            own_dir=scratch is None,
        )

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: ``base`` (default ``os.environ``) and the run's variables."""
        env = dict(os.environ if base is None else base)
        repo = self.store.repo
        env.update(
            GITCFG_RUN_ID=self.ref.id,
            GITCFG_PROJECT=self.ref.project,
            GITCFG_REPO=str(repo.worktree or repo.git_dir),
            GITCFG_BRANCH=self.store.branch,
            GITCFG_CONFIG=json.dumps(self.config, default=str),
            GITCFG_SUMMARY_FILE=self.summary_file,
        )
        return env

    def ended(self) -> tuple[float, str]:
        """The moment the program ended, for ``finish(at=...)``: monotonic clock and ISO time."""
        from gitcfg.provenance import now_iso

        return time.monotonic(), now_iso()

    def finish(
        self,
        returncode: int,
        extra_meta: Mapping[str, Any] | None = None,
        *,
        at: tuple[float, str] | None = None,
    ) -> None:
        """Commit exit status, duration and the results file; remove the temporary files.

        ``returncode`` is Popen's: negative for a signal, recorded as the shell does (128+N).
        ``at`` is when the program ended (``ended()``), if that was before this call.
        """
        ending = self.ending(returncode, extra_meta, at=at)
        try:
            self.store.update(self.ref, summary=ending.summary, meta=ending.meta)
        except RepositoryError as error:
            # the run's last commit: how the program ended is kept until the branch can take
            # it (gitcfg.pending)
            from gitcfg.pending import keep_at_end

            keep_at_end(
                self.store, error, self.ref, {}, [], summary=ending.summary, meta=ending.meta
            )
        finally:
            self.clean_up()

    def ending(
        self,
        returncode: int,
        extra_meta: Mapping[str, Any] | None = None,
        *,
        at: tuple[float, str] | None = None,
    ) -> RunUpdate:
        """What ``finish`` writes (exit status, duration, the results file), for a commit that
        writes it with another change (``create(finishing=...)``); then call ``clean_up``."""
        from gitcfg.store import RunUpdate

        end, finished = at if at is not None else self.ended()
        meta: dict[str, Any] = {
            "exit_status": 128 - returncode if returncode < 0 else returncode,
            "duration": round(end - self.started, 3),
            "finished": finished,
        }
        if returncode < 0:
            meta["signal"] = signal.Signals(-returncode).name
        meta.update(extra_meta or {})
        return RunUpdate(self.ref, self._read_summary() or None, meta)

    def clean_up(self) -> None:
        """Remove the run's temporary files (its results file, the point's JSON file)."""
        if self.own_dir:
            shutil.rmtree(os.path.dirname(self.summary_file), ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.summary_file)
        if self.json_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.json_file)

    def _read_summary(self) -> dict[str, Any]:
        from gitcfg.git.files import read_small

        try:
            raw = read_small(self.summary_file)
        except OSError:
            raw = b""  # there, but not readable: the YAML reader says why
        if raw is None:
            return {}  # the program wrote no results
        from gitcfg.yamlcodec import load_yaml_file

        try:
            data = _json_object(raw, self.summary_file)
            if data is None:
                data = load_yaml_file(self.summary_file)
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise GitcfgError(f"it holds a {type(data).__name__}, not a mapping of results")
            # checked as the store checks them: results it would refuse must not stop the
            # commit that records how the run ended (with a sweep's next run, too)
            return self.store.checked_results(data)
        except SecretKeyError as error:
            # The whole file is left out, not only that key: a program that wrote a credential
            # there dumped something it should not have, and its other values (a URL with a
            # password in it, say) may leak too; history on the branch is forever.
            note(f"results in $GITCFG_SUMMARY_FILE of run {self.ref} not recorded: {error}")
            return {}
        except GitcfgError as error:
            note(
                f"results in $GITCFG_SUMMARY_FILE of run {self.ref} not recorded: {error}; "
                f'write one mapping, e.g. {{"accuracy": 0.9}}'
            )
            return {}


def _json_object(raw: bytes, path: str) -> dict[str, Any] | None:
    """The JSON object in ``raw`` (the file at ``path``), if it holds one; None otherwise (then
    it is read as YAML).

    Programs in any language write their results with a JSON library far more often than as
    YAML. JSON is read as JSON: ``NaN`` and ``Infinity`` (which Python's json writes) stay
    floats, and it costs a tenth of the YAML parser.
    """
    raw = raw.removeprefix(codecs.BOM_UTF8).lstrip()  # a BOM: PowerShell and .NET write one
    if raw[:1] != b"{":
        return None
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        return None  # the YAML reader says what is wrong (a duplicate key, say)
    if not isinstance(data, dict):
        return None
    from gitcfg.yamlcodec import check_shape

    check_shape(data, path)  # the depth limit YAML has
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise ValueError("a key appears twice")
    return mapping


def run_foreground(child: ChildRun, argv: Sequence[str] | None = None) -> int:
    """Run ``child``'s command with stdin/stdout/stderr shared, forwarding signals to it; the
    run is recorded however it ends. Returns Popen's return code (negative: killed by signal)."""
    import subprocess

    command = list(argv or child.argv)
    try:
        process = subprocess.Popen(command, env=child.env())
    except OSError as exc:
        child.finish(127, {"error": f"could not start: {exc.strerror}"})
        raise SweepError(
            f"could not start {command[0]!r} ({exc.strerror}); run {child.ref} records exit "
            f"status 127; check the program and its permissions"
        ) from exc
    returncode: int | None = None
    try:
        with _forwarding(process):
            returncode = process.wait()
    finally:
        if returncode is None:  # gitcfg itself was interrupted: wait for the child's end
            returncode = _reap(process)
        child.finish(returncode)
    return returncode


def _reap(process: subprocess.Popen[bytes]) -> int:
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


@contextlib.contextmanager
def _forwarding(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Pass the stop and notify signals gitcfg gets on to the child, which decides what to do.

    A Ctrl-C on a terminal already reaches the child (same foreground process group), so
    SIGINT is only passed on when it came from elsewhere (``kill -INT``, a batch system).
    """

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and terminal_delivers():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)

    with handling(forward):
        yield


@contextlib.contextmanager
def handling(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """``handler`` for the ``FORWARDED`` signals while inside, the previous handlers after.

    Only the main thread may set handlers (Python delivers signals there); elsewhere this
    changes nothing.
    """
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in FORWARDED:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)


def terminal_delivers() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def exit_like(returncode: int) -> int:
    """End this process as the child ended: the same exit status, or the same signal."""
    if returncode < 0:
        signum = -returncode
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum  # reached only if the signal does not end the process
    return returncode


def note(text: str) -> None:
    if sys.stderr is None:  # started with stderr closed: the run goes on unheard
        return
    sys.stderr.write(f"gitcfg: {text}\n")
    sys.stderr.flush()
