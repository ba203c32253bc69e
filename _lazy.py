"""Lazy re-exports: a package's public names, imported from their modules on first use.

Keeps ``partita --help`` and light imports (``partita.errors``, the settings) from
pulling in the catalog, pyarrow and fsspec.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``name`` from
    ``sources[name]`` on first access and keeps it in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value  # later lookups skip this function
        return value

    return __getattr__
