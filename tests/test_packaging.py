"""The wheel holds the package ``partita`` only, with every subpackage, its license, its
type marker and its version; the tests run against the installed package, and the public
API is exactly ``__all__``."""

from __future__ import annotations

import ast
import email.message
import email.parser
import importlib
import importlib.metadata
import inspect
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import partita
from partita._extras import EXTRAS
from tests.conftest import REPO

NOT_PACKAGED = {"tests", "examples", "bench", "docs", "scripts", "build", "dist", "site"}


def repo_subpackages() -> set[str]:
    found = set()
    for init in REPO.rglob("__init__.py"):
        parts = init.relative_to(REPO).parts[:-1]
        if parts and parts[0] not in NOT_PACKAGED and not parts[0].startswith("."):
            found.add("partita." + ".".join(parts))
    return found


def test_wheel_contains_partita_and_every_subpackage_only(partita_wheel: Path) -> None:
    names = zipfile.ZipFile(partita_wheel).namelist()
    outside = [n for n in names if not n.startswith(("partita/", "partita-"))]
    assert outside == []
    packaged = {
        n.removesuffix("/__init__.py").replace("/", ".") for n in names if n.endswith("__init__.py")
    }
    assert repo_subpackages() | {"partita"} <= packaged
    assert "partita/cli/program.py" in names
    assert not any(n.startswith("partita/tests/") for n in names)


def test_wheel_is_typed_and_carries_the_license(partita_wheel: Path) -> None:
    wheel = zipfile.ZipFile(partita_wheel)
    names = wheel.namelist()
    assert "partita/py.typed" in names
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(license_file) == (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in wheel.read(license_file)
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)


def test_wheel_version_is_the_package_version(partita_wheel: Path) -> None:
    metadata = _metadata(zipfile.ZipFile(partita_wheel))
    assert metadata["Version"] == partita.__version__
    assert partita_wheel.name.startswith(f"partita-{partita.__version__}-")
    assert importlib.metadata.version("partita") == partita.__version__


def test_wheel_declares_what_the_package_imports(partita_wheel: Path) -> None:
    """Every third-party module the package imports is a dependency, or belongs to the
    extra that the package names when it is missing."""
    metadata = _metadata(zipfile.ZipFile(partita_wheel))
    declared: dict[str, set[str]] = {}
    for requirement in metadata.get_all("Requires-Dist"):
        name, _, marker = requirement.partition(";")
        extra = marker.split("extra ==")[1].strip(" \"'") if "extra ==" in marker else ""
        project = re.split(r"[\s\[<>=!~]", name.strip(), maxsplit=1)[0].lower()
        declared.setdefault(extra, set()).add(project.replace("_", "-"))
    imported = _third_party_imports()
    assert imported, "no import found: the scan is broken"
    for module in sorted(imported):
        extra = EXTRAS.get(module, "")
        project = module.replace("_", "-")  # each imported module is named as its project
        assert project in declared.get(extra, set()), f"{module}: not declared in [{extra}]"


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.BytesParser().parsebytes(wheel.read(name))


def _third_party_imports() -> set[str]:
    """The top-level modules outside the standard library that the package's code imports."""
    found: set[str] = set()
    for path in REPO.rglob("*.py"):
        parts = path.relative_to(REPO).parts
        if len(parts) > 1 and (parts[0] in NOT_PACKAGED or parts[0].startswith(".")):
            continue
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - {"partita", "__future__"}


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


def test_python_dash_m_partita_is_the_partita_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "partita", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"partita {partita.__version__}\n"
