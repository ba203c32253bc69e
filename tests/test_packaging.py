"""The wheel holds the package ``partita`` only, with every subpackage; the tests run
against the installed package, and the public API is exactly ``__all__``."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import partita
from tests.conftest import REPO

NOT_PACKAGED = {"tests", "examples", "bench", "docs", "scripts", "build", "dist", "site"}


def repo_subpackages() -> set[str]:
    found = set()
    for init in REPO.rglob("__init__.py"):
        parts = init.relative_to(REPO).parts[:-1]
        if parts and parts[0] not in NOT_PACKAGED and not parts[0].startswith("."):
            found.add("partita." + ".".join(parts))
    return found


@pytest.mark.slow
def test_wheel_contains_partita_and_every_subpackage_only(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        env={"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PATH": str(Path(sys.executable).parent)},
    )
    (wheel,) = tmp_path.glob("partita-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("partita/", "partita-"))]
    assert outside == []
    packaged = {
        n.removesuffix("/__init__.py").replace("/", ".") for n in names if n.endswith("__init__.py")
    }
    assert repo_subpackages() | {"partita"} <= packaged
    assert "partita/cli.py" in names
    assert not any(n.startswith("partita/tests/") for n in names)


def test_tests_run_against_the_installed_package() -> None:
    installed = Path(partita.__file__).resolve()
    assert installed.parent != REPO, f"partita imported from the working tree: {installed}"
    assert "site-packages" in installed.parts


@pytest.mark.parametrize("module", ["partita", "partita.assets", "partita.storage", "partita.core"])
def test_all_is_complete_and_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    for name in exported:
        assert getattr(mod, name) is not None, name
    public = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("partita")
    }
    assert public <= exported, f"public but not in __all__: {sorted(public - exported)}"


def test_layers_import_downward_only() -> None:
    order = ["errors", "assets", "storage", "core", "cli"]
    for path in REPO.glob("*/*.py"):
        layer = path.parent.name
        if layer not in order:
            continue
        above = order[order.index(layer) + 1 :]
        source = path.read_text()
        for higher in above:
            assert f"from partita.{higher}" not in source, f"{path} imports partita.{higher}"
            assert f"import partita.{higher}" not in source, f"{path} imports partita.{higher}"
