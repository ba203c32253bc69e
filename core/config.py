"""Project settings: ``partita.toml`` or ``[tool.partita]``, overridden by ``PARTITA_*``."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from partita.errors import ConfigError

DEFAULT_STORAGE = ".partita/data"
DEFAULT_CATALOG = "sqlite:///.partita/catalog.db"
ENV_OVERRIDES = {"PARTITA_STORAGE": "storage", "PARTITA_CATALOG": "catalog"}


class Settings(BaseModel):
    """A project's settings.

    Attributes:
        definitions: the module (``pkg.assets``) or file (``assets.py``) with the assets.
        storage: any fsspec URL or a path (relative to the project directory).
        storage_options: passed to fsspec (endpoint, credentials...).
        catalog: a SQLAlchemy URL; relative SQLite paths are relative to the project.
        lease_seconds: how long a partition lease lives without a heartbeat.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    definitions: str = "assets.py"
    storage: str = DEFAULT_STORAGE
    storage_options: dict[str, Any] = Field(default_factory=dict)
    catalog: str = DEFAULT_CATALOG
    lease_seconds: float = Field(default=30.0, gt=0)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _raw_settings(root: Path) -> tuple[dict[str, Any], str]:
    toml = root / "partita.toml"
    if toml.is_file():
        return _read_toml(toml), str(toml)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("partita")
        if isinstance(section, dict):
            return section, f"{pyproject} [tool.partita]"
    raise ConfigError(
        f"{root} is not a partita project: no partita.toml or [tool.partita] in pyproject.toml; "
        'create partita.toml with definitions = "assets.py", or pass --project DIR'
    )


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "settings"
    if error.get("type") == "extra_forbidden":
        return f"unknown setting {where!r} (known: {', '.join(Settings.model_fields)})"
    return f"{where}: {error.get('msg')}"


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings of the project in ``root``.

    Raises:
        ConfigError: no configuration, bad TOML, an unknown key or a bad value.
    """
    environ = os.environ if environ is None else environ
    raw, source = _raw_settings(root)
    for variable, key in ENV_OVERRIDES.items():
        if environ.get(variable):
            raw = {**raw, key: environ[variable]}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc.errors()[0])}") from exc


def resolve_storage(settings: Settings, root: Path) -> str:
    """The storage URL, with a relative local path made absolute under ``root``."""
    url = settings.storage
    if "://" in url:
        return url
    return str((root / url).resolve())


def resolve_catalog(settings: Settings, root: Path) -> str:
    """The catalog URL, with a relative SQLite path made absolute under ``root``.

    The default ``.partita/`` directory is created; a configured one must exist.
    """
    url = settings.catalog
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == "sqlite:///:memory:":
        return url
    path = (root / url[len(prefix) :]).resolve()
    if url == DEFAULT_CATALOG:
        path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


def project_root(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Path:
    """The project directory: ``path``, else ``PARTITA_PROJECT``, else the working directory."""
    environ = os.environ if environ is None else environ
    chosen = Path(path or environ.get("PARTITA_PROJECT") or ".").expanduser().resolve()
    if not chosen.is_dir():
        raise ConfigError(f"project directory {chosen} does not exist")
    return chosen
