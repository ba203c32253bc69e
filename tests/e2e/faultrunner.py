"""Run the ``partita`` command with faults injected: used by the fault-injection tests only.

    python faultrunner.py '<json spec>' backfill sales_report --from ... --workers 3
    python faultrunner.py --serve     # forks such runs on request (see serve())

The spec arms faults by patching partita, SQLAlchemy and s3fs in this process (the product
has no fault hooks), then hands the remaining arguments to ``partita.cli.main()``::

    {"faults": [{"point": "kill-after-commit", "n": 4}],
     "fired": "/tmp/.../fired.jsonl",
     "s3_block_size": 8192}

Each fault fires once, at the ``n``-th occurrence of its point in this process (counted
over every worker thread). Before it fires, a line is appended to ``fired``: the point,
``n``, the pid and the file or statement it hit. Kills are ``SIGKILL`` to this process;
raised faults are the errors the libraries would raise (``OSError`` from s3fs,
``OperationalError`` from the database driver) and the process goes on.
``s3_block_size`` makes s3fs upload anything larger in several parts (multipart uploads),
below its 5 MiB minimum, so part uploads and their completion can be hit with small files.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

KILLS = (
    "kill-during-write",
    "kill-before-commit",
    "kill-during-commit",
    "kill-at-commit",
    "kill-after-commit",
    "kill-before-publish",
    "kill-mid-swap",
    "kill-during-cleanup",
    "s3-kill-mid-upload",
)
RAISES = (
    "db-error-in-commit",
    "db-error-after-commit",
    "s3-error-upload-part",
    "s3-error-put-object",
    "s3-error-complete",
    "s3-error-after-complete",
)
POINTS = KILLS + RAISES
# What a backfill imports sooner or later: a forked process finds them loaded.
PRELOAD = (
    "partita.cli",
    "partita.cli.render",
    "partita.core.project",
    "partita.storage.store.datastore",
    "pyarrow.compute",
    "pyarrow.parquet",
    "sqlalchemy",
    "psycopg",
    "s3fs",
    "rich.console",
    "rich.progress",
    "rich.table",
)


class Trigger:
    """Counts occurrences of one point, thread-safely; fires at the ``n``-th."""

    def __init__(self, point: str, n: int, log: str) -> None:
        self.point = point
        self.n = n
        self._log = log
        self._seen = 0
        self._lock = threading.Lock()

    def hit(self) -> bool:
        with self._lock:
            self._seen += 1
            return self._seen == self.n

    def record(self, target: str = "") -> None:
        line = {"point": self.point, "n": self.n, "pid": os.getpid(), "target": target}
        with open(self._log, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
            log.flush()
            os.fsync(log.fileno())

    def kill(self, target: str = "") -> None:
        self.record(target)
        os.kill(os.getpid(), signal.SIGKILL)


COMMITS = ("finish_attempts",)  # the Catalog methods that commit versions


def _commit_target(name: str, args: tuple[Any, ...]) -> str | None:
    """The partition a commit call commits (the first one of its batch), or ``None``
    when it commits no version."""
    versions = [end for end in args[1] if end.version is not None]
    return f"{versions[0].asset} [{versions[0].partition}]" if versions else None


def _in_commit() -> Callable[[], bool]:
    """Wrap the catalog's commits so that statements can tell they run inside one."""
    from partita.storage.catalog.facade import Catalog

    state = threading.local()
    for name in COMMITS:
        original = getattr(Catalog, name)

        def commit(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            state.active = True
            try:
                return _original(self, *args, **kwargs)
            finally:
                state.active = False

        setattr(Catalog, name, functools.wraps(original)(commit))
    return lambda: getattr(state, "active", False)


def _operational_error(statement: str, what: str) -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError(statement, None, ConnectionError(f"injected fault: {what}"))


def _arm_write(trigger: Trigger) -> None:
    from partita.storage.store import datastore as store

    original = store._HashingWriter.write

    def write(self: Any, data: bytes) -> int:
        written = original(self, data)
        if trigger.hit():
            # Push what went through to the file (or to the upload) before dying, so a
            # truncated temporary or an unfinished upload is what is left behind.
            self._file.flush()
            trigger.kill(str(getattr(self._file, "name", None) or getattr(self._file, "path", "")))
        return written

    store._HashingWriter.write = write


def _arm_commit_call(triggers: dict[str, Trigger]) -> None:
    """Faults around the catalog's commits: before one, after it returned, or raised after it."""
    from partita.errors import CatalogError
    from partita.storage.catalog.facade import Catalog

    for name in COMMITS:
        original = getattr(Catalog, name)

        def commit(
            self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> Any:
            target = _commit_target(_name, args)
            if target is None:
                return _original(self, *args, **kwargs)
            before = triggers.get("kill-before-commit")
            if before is not None and before.hit():
                before.kill(target)
            result = _original(self, *args, **kwargs)
            after = triggers.get("kill-after-commit")
            if after is not None and after.hit():
                after.kill(target)
            lost = triggers.get("db-error-after-commit")
            if lost is not None and lost.hit():
                lost.record(target)
                # The COMMIT went through, but the client saw the connection drop.
                error = CatalogError(
                    f"catalog: committing a version failed: injected fault after COMMIT ({target})"
                )
                raise error from _operational_error("COMMIT", "connection lost after COMMIT")
            return result

        setattr(Catalog, name, functools.wraps(original)(commit))


def _arm_statements(triggers: dict[str, Trigger], in_commit: Callable[[], bool]) -> None:
    """Faults inside the commit transaction, through SQLAlchemy's engine events."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not in_commit():
            return
        head = " ".join(statement.split()[:3]).upper()
        during = triggers.get("kill-during-commit")
        if during is not None and head == "INSERT INTO VERSIONS" and during.hit():
            during.kill(head)  # after the superseded version was marked, in the same transaction
        failing = triggers.get("db-error-in-commit")
        if failing is not None and head == "UPDATE PARTITIONS SET" and failing.hit():
            failing.record(head)
            raise _operational_error(statement, "server closed the connection unexpectedly")

    def on_commit(conn: Any) -> None:
        at = triggers.get("kill-at-commit")
        if in_commit() and at is not None and at.hit():
            at.kill("COMMIT")

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    event.listen(Engine, "commit", on_commit)


def _arm_cleanup(trigger: Trigger) -> None:
    from partita.storage.store.datastore import DataStore

    original = DataStore.delete

    @functools.wraps(original)
    def delete(self: Any, files: Any, *args: Any, **kwargs: Any) -> Any:
        files = list(files)
        if files and trigger.hit():
            trigger.kill(files[0])
        return original(self, files, *args, **kwargs)

    DataStore.delete = delete  # type: ignore[method-assign]


def _arm_publish(trigger: Trigger) -> None:
    """Before a committed version is given its visible name (its lease still held)."""
    from partita.storage.store.datastore import DataStore

    original = DataStore.publish

    @functools.wraps(original)
    def publish(self: Any, files: Any, *args: Any, **kwargs: Any) -> Any:
        if trigger.hit():
            trigger.kill(files[0])
        return original(self, files, *args, **kwargs)

    DataStore.publish = publish  # type: ignore[method-assign]


def _arm_swap(trigger: Trigger) -> None:
    """Between the last two renames of a publishing swap (local disk): the superseded
    file's name then holds the new version's bytes."""
    from partita.storage.store import localdisk

    original_swap = localdisk.swap
    original_replace = os.replace
    state = threading.local()

    def replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        original_replace(source, target, *args, **kwargs)
        if getattr(state, "renames", None) is not None:
            state.renames += 1
            if state.renames == 1 and trigger.hit():
                trigger.kill(str(target))

    def swap(*args: Any) -> bool:
        state.renames = 0
        try:
            return original_swap(*args)
        finally:
            state.renames = None

    os.replace = replace  # type: ignore[assignment]
    localdisk.swap = swap


def _arm_s3(triggers: dict[str, Trigger], block_size: int | None) -> None:
    """Faults in s3fs uploads: on a part, on the one-shot PUT, on completing, after it."""
    from s3fs.core import S3File

    if block_size:
        init = S3File.__init__

        @functools.wraps(init)
        def small_parts(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            self.blocksize = block_size  # s3fs refuses less than 5 MiB as an argument

        S3File.__init__ = small_parts  # type: ignore[method-assign]

    original = S3File._call_s3
    raising = {
        "upload_part": triggers.get("s3-error-upload-part"),
        "put_object": triggers.get("s3-error-put-object"),
        "complete_multipart_upload": triggers.get("s3-error-complete"),
    }
    completing = ("put_object", "complete_multipart_upload")

    def call(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        failing = raising.get(method)
        if failing is not None and failing.hit():
            failing.record(self.path)
            raise OSError(errno.EIO, f"injected fault: {method} failed", self.path)
        result = original(self, method, *args, **kwargs)
        after = triggers.get("s3-error-after-complete")
        if after is not None and method in completing and after.hit():
            after.record(self.path)  # the object is in place, but the client saw an error
            raise OSError(errno.EIO, f"injected fault: lost the response to {method}", self.path)
        mid = triggers.get("s3-kill-mid-upload")
        if mid is not None and method == "upload_part" and mid.hit():
            mid.kill(self.path)  # a part is up, the upload is not complete
        return result

    S3File._call_s3 = call  # type: ignore[method-assign]


def install(spec: dict[str, Any]) -> None:
    """Arm the faults of ``spec`` in this process."""
    log = spec["fired"]
    triggers: dict[str, Trigger] = {}
    for fault in spec.get("faults", []):
        point = fault["point"]
        if point not in POINTS:
            raise SystemExit(f"faultrunner: unknown fault point {point!r} (known: {POINTS})")
        triggers[point] = Trigger(point, int(fault["n"]), log)
    if "kill-during-write" in triggers:
        _arm_write(triggers["kill-during-write"])
    if "kill-during-cleanup" in triggers:
        _arm_cleanup(triggers["kill-during-cleanup"])
    if "kill-before-publish" in triggers:
        _arm_publish(triggers["kill-before-publish"])
    if "kill-mid-swap" in triggers:
        _arm_swap(triggers["kill-mid-swap"])
    commit_points = ("kill-before-commit", "kill-after-commit", "db-error-after-commit")
    if any(point in triggers for point in commit_points):
        _arm_commit_call(triggers)
    if any(
        point in triggers
        for point in ("kill-during-commit", "kill-at-commit", "db-error-in-commit")
    ):
        _arm_statements(triggers, _in_commit())
    if any(point.startswith("s3-") for point in triggers) or spec.get("s3_block_size"):
        _arm_s3(triggers, spec.get("s3_block_size"))


def run(spec: dict[str, Any], argv: list[str]) -> None:
    """Arm the faults, then be ``partita ARGV``."""
    install(spec)
    from partita.cli import main as partita

    sys.argv = ["partita", *argv]
    partita()


def serve() -> None:
    """Start backfills on request, each a forked process with the heavy modules imported.

    Every process of a scenario would spend most of its life importing partita,
    SQLAlchemy, pyarrow and s3fs; forked from here, it starts with them loaded. Requests
    and replies are JSON lines on stdin and stdout:
    ``{"spec": ..., "argv": [...], "cwd": ..., "env": {...}, "log": path}`` starts one and
    replies ``{"pid": pid}``; ``{"wait": [pid, ...]}`` replies ``{"returncodes": [...]}``
    (negative: killed by that signal), once they have all ended.
    """
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        if "wait" in request:
            codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in request["wait"]]
            reply: dict[str, Any] = {"returncodes": codes}
        else:
            reply = {"pid": _fork(request)}
        print(json.dumps(reply), flush=True)


def _fork(request: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        run(request["spec"], request["argv"])
        code = 0
    except SystemExit as exit:
        code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)  # never run the server's own shutdown in a child


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        run(json.loads(sys.argv[1]), sys.argv[2:])


if __name__ == "__main__":
    main()
