"""The architecture, checked: layers that import only downward (import-linter's contract in
pyproject.toml, on the installed package), and folders that show it -- ``core/`` holds
its project facade and settings, the rest in noun subpackages; small modules, each named
apart from every other."""

from __future__ import annotations

import collections
import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import partita
from tests.conftest import REPO, _require

PACKAGE = Path(partita.__file__).parent  # the installed package
MAX_LINES = 500
CORE_MODULES = 4  # directly in core/, __init__.py included


def product_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_import_only_downward() -> None:
    cli = _require("importlinter.cli")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), _loggers_kept_enabled():
        exit_code = cli.lint_imports(config_filename=str(REPO / "pyproject.toml"))
    assert exit_code == 0, printed.getvalue()
    assert "1 kept, 0 broken" in printed.getvalue()


@contextlib.contextmanager
def _loggers_kept_enabled() -> Iterator[None]:
    # import-linter configures its logging with dictConfig, which disables every logger
    # that exists already: partita's own (ctx.log) would keep nothing in later tests.
    loggers = logging.root.manager.loggerDict.values()
    enabled = [x for x in loggers if isinstance(x, logging.Logger) and not x.disabled]
    try:
        yield
    finally:
        for logger in enabled:
            logger.disabled = False


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
