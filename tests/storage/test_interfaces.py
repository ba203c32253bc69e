"""The storage classes core uses are what the protocols of storage/interfaces.py say:
every member, with the same parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from partita.storage import Catalog, DataStore
from partita.storage.interfaces import (
    NamedLeases,
    PartitionStore,
    Reports,
    StateReader,
    StateWriter,
)


def members(protocol: type) -> set[str]:
    """The names a protocol declares: methods, properties and attributes."""
    declared = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return {name for name in declared if not name.startswith("_")}


def parameters(function: Any) -> list[tuple[str, Any, bool]]:
    """Each parameter's name, kind and whether it has a default."""
    signature = inspect.signature(function)
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]


@pytest.fixture(scope="module")
def implementations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[type, object]]:
    tmp_path = tmp_path_factory.mktemp("interfaces")
    catalog = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    yield {
        StateReader: catalog,
        StateWriter: catalog,
        Reports: catalog.reports,
        NamedLeases: catalog.named_leases,
        PartitionStore: DataStore(str(tmp_path / "data")),
    }
    catalog.close()


@pytest.mark.parametrize(
    "protocol", [StateReader, StateWriter, Reports, NamedLeases, PartitionStore]
)
def test_each_implementation_has_every_member_of_its_protocol(
    protocol: type, implementations: dict[type, object]
) -> None:
    implementation = implementations[protocol]
    for name in sorted(members(protocol)):
        assert hasattr(implementation, name), f"{type(implementation).__name__}.{name}"
        declared = inspect.getattr_static(protocol, name, None)
        if inspect.isfunction(declared):
            found = getattr(type(implementation), name)
            assert parameters(found) == parameters(declared), name
