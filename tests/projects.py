"""Test projects: a folder with a ``partita.toml`` and a definitions module, opened as a
``partita.Project`` with a fixed clock and a ``sleep`` that never waits.

In-process tests get a :class:`ProjectFactory` as the ``make_project`` fixture
(tests/core/conftest.py); tests that run ``partita`` as a process write the folder with
:func:`write_project`.
"""

from __future__ import annotations

import datetime as dt
import textwrap
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import partita as pt

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)  # every day of April 2026 is due

Clock = dt.datetime | Callable[[], dt.datetime]


class Sleeps(list[float]):
    """A ``sleep`` that records the delays asked for and returns at once.

    Args:
        hook: called with the delays so far after each one is recorded: what happens
            "while" the caller waits (another writer gives a lease back, say).
    """

    def __init__(self, hook: Callable[[Sleeps], None] | None = None) -> None:
        super().__init__()
        self.hook = hook

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.hook is not None:
            self.hook(self)


def write_project(
    root: Path,
    source: str,
    settings: str = "",
    *,
    definitions: str = "assets.py",
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write a project into ``root`` (made if missing) and return ``root``.

    Args:
        root: the project's folder.
        source: the definitions module (dedented).
        settings: TOML appended to ``partita.toml`` after its ``definitions`` line
            (dedented).
        definitions: the definitions module's file name.
        files: more files to write in the folder: name -> text (dedented).
    """
    root.mkdir(parents=True, exist_ok=True)
    toml = f'definitions = "{definitions}"\n' + textwrap.dedent(settings)
    (root / "partita.toml").write_text(toml)
    (root / definitions).write_text(textwrap.dedent(source))
    for name, text in (files or {}).items():
        (root / name).write_text(textwrap.dedent(text))
    return root


class ProjectFactory:
    """Writes projects under ``folder`` and opens them; :meth:`close` closes every one.

    Each new project's definitions module has a name of its own (``defs_<hex>.py``), so
    a test can reach the loaded module in ``sys.modules`` without meeting another
    project's.

    Args:
        folder: where new projects go (a test's ``tmp_path``).
        header: code put before every definitions module (a test module's imports and
            partitions), so that ``source`` holds only what a test adds.
    """

    def __init__(self, folder: Path, header: str = "") -> None:
        self.folder = folder
        self.header = header
        self.opened: list[pt.Project] = []
        self._definitions: dict[Path, str] = {}

    def __call__(
        self,
        source: str | None = None,
        settings: str = "",
        *,
        files: Mapping[str, str] | None = None,
        name: str | None = None,
        root: Path | None = None,
        clock: Clock = NOW,
        sleep: Callable[[float], None] | None = None,
    ) -> pt.Project:
        """Open a ``Project`` on a new project, or another one on an existing folder.

        ``make_project(source, settings)`` writes a new project: the header then
        ``source`` as its definitions, ``settings`` in its ``partita.toml`` and
        ``files`` beside them. ``make_project(root=...)`` opens another ``Project`` on a
        project this factory wrote (another writer); with ``source`` too, it first
        rewrites that project's definitions (a code change).

        Args:
            source: the test's definitions, after the header (dedented).
            settings: TOML for ``partita.toml`` (dedented); new projects only.
            files: more files for the folder, name -> text; new projects only.
            name: the new project's folder name (default: its module's name).
            root: an existing project's folder, instead of a new one.
            clock: the project's clock, or the fixed instant it always tells.
            sleep: the project's ``sleep`` (default: a new :class:`Sleeps`).
        """
        if root is None:
            module = f"defs_{uuid.uuid4().hex}"
            root = self.folder / (name or module)
            write_project(
                root, self._source(source), settings, definitions=f"{module}.py", files=files
            )
            self._definitions[root] = f"{module}.py"
        elif source is not None:
            (root / self._definitions[root]).write_text(self._source(source))
        tells = clock if callable(clock) else (lambda: clock)
        project = pt.Project(root, clock=tells, sleep=Sleeps() if sleep is None else sleep)
        self.opened.append(project)
        return project

    def _source(self, source: str | None) -> str:
        return self.header + textwrap.dedent(source or "")

    def close(self) -> None:
        """Close every project opened (closing one twice is harmless)."""
        for project in self.opened:
            project.close()
