"""Executors run steps: inline (debugging) or on a pool of threads (the default)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from partita.errors import PlanError

EXECUTORS = ("inline", "threads")


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def make_executor(kind: str, workers: int) -> Executor:
    """Create the executor named ``kind`` with ``workers`` workers."""
    if workers < 1:
        raise PlanError(f"--workers must be at least 1, got {workers}")
    if kind == "inline":
        return InlineExecutor()
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="partita-step")
    raise PlanError(f"unknown executor {kind!r}; use one of: {', '.join(EXECUTORS)}")
