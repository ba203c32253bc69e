"""The architecture, checked: layers that import only downward (import-linter's contract in
pyproject.toml, on the installed package), and folders that show it -- ``core/`` holds
its project facade and settings, the rest in noun subpackages; small modules, each named
apart from every other."""

from __future__ import annotations

import collections
import contextlib
import io
from pathlib import Path

import partita
from tests.conftest import REPO, _require

PACKAGE = Path(partita.__file__).parent  # the installed package
MAX_LINES = 500
CORE_MODULES = 4  # directly in core/, __init__.py included


def product_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_import_only_downward() -> None:
    # The use case, not importlinter.cli.lint_imports: the CLI function configures logging
    # for the whole process (dictConfig disables every logger it does not name).
    _require("importlinter.cli")  # configures import-linter's adapters on import
    from importlinter.application import use_cases

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        passed = use_cases.lint_imports(
            config_filename=str(REPO / "pyproject.toml"), cache_dir=None, no_logo=True
        )
    assert passed, printed.getvalue()
    assert "1 kept, 0 broken" in printed.getvalue()


def test_core_holds_few_modules_and_the_rest_in_subpackages() -> None:
    direct = sorted(p.name for p in (PACKAGE / "core").glob("*.py"))
    assert len(direct) <= CORE_MODULES, direct
    packages = sorted(p.name for p in (PACKAGE / "core").iterdir() if (p / "__init__.py").exists())
    assert packages == ["automation", "maintenance", "observe", "plan", "run"]


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in product_modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_two_modules_share_a_file_name() -> None:
    names = collections.defaultdict(list)
    for path in product_modules():
        if path.name != "__init__.py":
            names[path.name].append(str(path.relative_to(PACKAGE)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}
