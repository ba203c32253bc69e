"""The architecture, checked: layers that import only downward (import-linter's contract in
pyproject.toml, on the installed package), and folders that show it -- ``core/`` holds
its project facade and settings, the rest in noun subpackages; small modules, each named
apart from every other."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import partita
from tests.conftest import REPO, _require

PACKAGE = Path(partita.__file__).parent  # the installed package
MAX_LINES = 500
CORE_MODULES = 4  # directly in core/, __init__.py included
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1]))"
)


def product_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_import_only_downward() -> None:
    _require("importlinter.cli")
    # In a process of its own: import-linter configures logging with dictConfig, which
    # disables every logger that exists, the asset loggers of the tests before it included.
    done = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


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
