"""Factories for declaration tests: definitions files written to ``tmp_path`` and loaded."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from partita.assets import AssetGraph, load_graph

WriteDefs = Callable[[str], str]
LoadDefs = Callable[[str], AssetGraph]


@pytest.fixture
def write_defs(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WriteDefs]:
    """Write a definitions file under a module name no other test uses; return its name.

    The loader imports files as top-level modules (and adds their folder to ``sys.path``),
    so ``sys.path`` and the imported modules are restored afterwards.
    """
    monkeypatch.setattr(sys, "path", list(sys.path))
    stem = re.sub(r"\W", "_", request.node.name).lower()
    names: list[str] = []

    def write(source: str) -> str:
        name = f"defs_{stem}_{len(names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return f"{name}.py"

    yield write
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def load_defs(write_defs: WriteDefs, tmp_path: Path) -> LoadDefs:
    """Write a definitions file and load its validated asset graph."""

    def load(source: str) -> AssetGraph:
        return load_graph(write_defs(source), tmp_path)

    return load
