"""What one ``partita`` command works with: its project, its consoles, whether a run began.

An :class:`Invocation` lives on the click context of the command (``ctx.obj``), never in
a module: two commands run in one process (the tests' in-process runner, an application
embedding the app) share nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from partita.core.project import Project

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(eq=False)
class Invocation:
    """One command's state, made when the root command starts and closed when it ends.

    Attributes:
        path: the project directory given with ``--project`` (``None``: the default).
        running: set once a run or the daemon starts: an error from then on is a failed
            run (exit 1), not bad usage (exit 2).
    """

    path: str | None = None
    running: bool = False
    _project: Project | None = field(default=None, repr=False)
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    @staticmethod
    def of(ctx: typer.Context) -> Invocation:
        """The invocation of the command ``ctx`` belongs to."""
        found = ctx.find_object(Invocation)
        if found is None:
            raise RuntimeError("a partita command runs under the partita root command")
        return found

    @property
    def project(self) -> Project:
        """The project, opened on first use (loading definitions and the catalog)."""
        if self._project is None:
            from partita.core.project import Project

            self._project = Project(self.path)
        return self._project

    @property
    def out(self) -> Console:
        """The console on stdout."""
        if self._out is None:
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        """The console on stderr."""
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err

    def close(self) -> None:
        """Close the project, if it was opened."""
        project, self._project = self._project, None
        if project is not None:
            project.close()


def _console(*, stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def finish(code: int) -> NoReturn:
    """End the command with exit ``code``."""
    raise typer.Exit(code)
