"""Collect definitions (assets, schedules, sensors) from a module or a Python file (no
global registry)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from partita._extras import extra_hint
from partita.assets.asset import Asset
from partita.assets.automation import FileSensor, Schedule
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
        raise DefinitionError(
            f"importing definitions {spec!r} failed: {one_line(exc)}{extra_hint(exc)}"
        ) from exc
    except Exception as exc:
        raise DefinitionError(f"importing definitions {spec!r} failed: {one_line(exc)}") from exc


def _names_module(spec: str, missing: str | None) -> bool:
    """Whether the missing module is ``spec`` itself or one of its parent packages."""
    is_file = spec.endswith(".py") or "/" in spec
    return not is_file and missing is not None and f"{spec}.".startswith(f"{missing}.")


T = TypeVar("T")
Named = TypeVar("Named", Schedule, FileSensor)


@dataclass(frozen=True, slots=True)
class Definitions:
    """Everything a definitions module declares.

    Attributes:
        graph: the validated asset graph.
        schedules: the module's :class:`Schedule` objects, by name.
        sensors: the module's :class:`FileSensor` objects, by name.
    """

    graph: AssetGraph
    schedules: dict[str, Schedule]
    sensors: dict[str, FileSensor]


def collect(module: ModuleType, kind: type[T]) -> list[T]:
    """Every object of type ``kind`` defined at the top level of ``module``, once each."""
    found: dict[int, T] = {}
    for value in vars(module).values():
        if isinstance(value, kind):
            found.setdefault(id(value), value)
    return list(found.values())


def collect_assets(module: ModuleType) -> list[Asset]:
    """Every :class:`Asset` defined at the top level of ``module``."""
    return collect(module, Asset)


def load_definitions(spec: str, base_dir: Path) -> Definitions:
    """Load and validate the assets, schedules and sensors defined by ``spec``.

    Raises:
        DefinitionError: the module cannot be imported, defines no assets, or a schedule
            or sensor names an unknown asset or shares its name with another.
    """
    module = load_module(spec, base_dir)
    assets = collect_assets(module)
    if not assets:
        raise DefinitionError(f"no assets found in {spec!r}; decorate functions with @asset")
    graph = AssetGraph(assets)
    schedules = _by_name("schedule", collect(module, Schedule))
    sensors = _by_name("sensor", collect(module, FileSensor))
    for schedule in schedules.values():
        for key in schedule.assets:
            _known(graph, key, f"schedule {schedule.name!r}")
    for sensor in sensors.values():
        if _known(graph, sensor.asset, f"sensor {sensor.name!r}").partitions is None:
            raise DefinitionError(
                f"sensor {sensor.name!r}: asset {sensor.asset!r} is not partitioned; "
                "a file sensor materializes the partition its file names"
            )
    return Definitions(graph, schedules, sensors)


def load_graph(spec: str, base_dir: Path) -> AssetGraph:
    """Load and validate the asset graph defined by ``spec``."""
    return load_definitions(spec, base_dir).graph


def _by_name(kind: str, items: list[Named]) -> dict[str, Named]:
    named: dict[str, Named] = {}
    for item in items:
        name = item.name
        if name in named:
            raise DefinitionError(f"two {kind}s are named {name!r}; give each a unique name")
        named[name] = item
    return named


def _known(graph: AssetGraph, key: str, where: str) -> Asset:
    try:
        return graph.get(key)
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from exc
