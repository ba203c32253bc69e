"""Collect asset definitions from a module or a Python file (no global registry)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from partita.assets.asset import Asset
from partita.assets.graph import AssetGraph
from partita.assets.messages import one_line
from partita.errors import DefinitionError, PartitaError


def _import_file(path: Path) -> ModuleType:
    name = path.stem
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return importlib.reload(existing)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot load definitions from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_module(spec: str, base_dir: Path) -> ModuleType:
    """Import the definitions module: a ``.py`` file (relative to ``base_dir``) or a
    dotted module name.

    Raises:
        DefinitionError: the module cannot be found or fails to import.
    """
    try:
        if spec.endswith(".py") or "/" in spec:
            path = (base_dir / spec).resolve()
            if not path.is_file():
                raise DefinitionError(
                    f"definitions file {path} does not exist; set 'definitions' in partita.toml"
                )
            return _import_file(path)
        if str(base_dir) not in sys.path:
            sys.path.insert(0, str(base_dir))
        return importlib.import_module(spec)
    except PartitaError:
        raise
    except ModuleNotFoundError as exc:
        if _names_module(spec, exc.name):
            raise DefinitionError(
                f"cannot import definitions module {spec!r}: {exc}; "
                "set 'definitions' in partita.toml"
            ) from exc
        # The module was found but something it imports is missing: not a settings problem.
        raise DefinitionError(f"importing definitions {spec!r} failed: {one_line(exc)}") from exc
    except Exception as exc:
        raise DefinitionError(f"importing definitions {spec!r} failed: {one_line(exc)}") from exc


def _names_module(spec: str, missing: str | None) -> bool:
    """Whether the missing module is ``spec`` itself or one of its parent packages."""
    is_file = spec.endswith(".py") or "/" in spec
    return not is_file and missing is not None and f"{spec}.".startswith(f"{missing}.")


def collect_assets(module: ModuleType) -> list[Asset]:
    """Every :class:`Asset` defined at the top level of ``module``."""
    found: dict[int, Asset] = {}
    for value in vars(module).values():
        if isinstance(value, Asset):
            found.setdefault(id(value), value)
    return list(found.values())


def load_graph(spec: str, base_dir: Path) -> AssetGraph:
    """Load and validate the asset graph defined by ``spec``."""
    module = load_module(spec, base_dir)
    assets = collect_assets(module)
    if not assets:
        raise DefinitionError(f"no assets found in {spec!r}; decorate functions with @asset")
    return AssetGraph(assets)
