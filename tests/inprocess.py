"""Run the ``partita`` command inside the test process, as a fresh process would run it.

Starting an interpreter costs most of a short command's time, so CLI and docs tests call the
Typer app in this process (Typer's ``CliRunner``) unless the process itself is what they test:
exit codes of the real entry point, signals, races between processes. For each call the
working directory and the environment are what a subprocess would get, and what a call leaves
behind in the process is undone: the definitions modules it imported (examples import
helpers such as ``sales_api`` by their bare names), ``sys.path`` entries, signal handlers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

from typer.testing import CliRunner

from partita.cli import app

# Library and standard-library modules stay imported; anything else a call imports (the
# project's definitions and their helpers) is forgotten afterwards.
_INSTALLED = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)})
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(cwd: Path, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``partita ARGS`` in ``cwd`` with exactly the environment ``env``: its exit code,
    stdout and stderr (an unexpected exception's traceback included, as Python prints it)."""
    with _isolated(cwd, env):
        result = CliRunner().invoke(app, args, prog_name="partita")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["partita", *args], result.exit_code, result.stdout, stderr)


@contextlib.contextmanager
def _isolated(cwd: Path, env: Mapping[str, str]) -> Iterator[None]:
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    saved_handlers = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if not _installed(sys.modules.get(name)):
                del sys.modules[name]
        for signum, handler in saved_handlers.items():
            signal.signal(signum, handler)


def _installed(module: object) -> bool:
    path = getattr(module, "__file__", None)
    return path is None or os.path.realpath(path).startswith(_INSTALLED)
