"""Project settings: ``partita.toml`` or ``[tool.partita]``, overridden by ``PARTITA_*``."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from partita.assets.durations import DURATION_FORMS, parse_duration
from partita.errors import ConfigError, DefinitionError, NotAProjectError
from partita.storage.redaction import redact_credentials, redact_options, redact_url, url_origin

DEFAULT_STORAGE = ".partita/data"
DEFAULT_CATALOG = "sqlite:///.partita/catalog.db"
ENV_OVERRIDES = {"PARTITA_STORAGE": "storage", "PARTITA_CATALOG": "catalog"}


AlertEvent = Literal["failure", "recovery"]
ALERT_EVENTS: tuple[AlertEvent, ...] = ("failure", "recovery")
_POOL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class AlertSettings(BaseModel):
    """One ``[[alerts]]`` entry: where to send failure and recovery events.

    Attributes:
        webhook: an ``http(s)://`` URL the event is POSTed to as JSON.
        command: a shell command run in the project directory, the event JSON on its
            stdin and in ``PARTITA_ALERT_*`` environment variables.
        python: ``module:function``, importable from the project directory, called
            with the event as a dict.
        on: the events to send (``failure``, ``recovery``).
        retries: how many times a failed delivery is retried, with exponential backoff.
        timeout: how long one delivery may take (``"10s"``, or seconds).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: str | None = None
    command: str | None = None
    python: str | None = None
    on: tuple[AlertEvent, ...] = ALERT_EVENTS
    retries: int = Field(default=3, ge=0)
    timeout: float = 10.0

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("give an http:// or https:// URL")  # never echo the URL
        if value is not None and not urlsplit(value).hostname:
            raise ValueError("the URL has no host")
        return value

    @field_validator("python")
    @classmethod
    def _python(cls, value: str | None) -> str | None:
        module, _, function = (value or "").partition(":")
        if value is not None and not (module and function.isidentifier()):
            raise ValueError(f"{value!r}: write module:function (e.g. 'alerts:notify')")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        try:
            seconds = parse_duration(value, what="timeout")
        except DefinitionError as exc:
            raise ValueError(f"write {DURATION_FORMS}") from exc
        if seconds <= 0:
            raise ValueError("it must be longer than 0s")
        return seconds

    @model_validator(mode="after")
    def _one_destination(self) -> AlertSettings:
        given = [d for d in (self.webhook, self.command, self.python) if d is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of webhook, command or python")
        return self

    @property
    def destination(self) -> str:
        """The destination as it may be shown: a webhook only as ``scheme://host``."""
        if self.webhook is not None:
            return f"webhook {url_origin(self.webhook)}"
        if self.command is not None:
            return f"command {self.command!r}"
        return f"python {self.python}"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (url_origin(value) if name == "webhook" and value else value)


class OpenLineageSettings(BaseModel):
    """``[openlineage]``: where OpenLineage run events of each step are sent.

    Attributes:
        url: an ``http(s)://`` endpoint the events are POSTed to (e.g. Marquez's
            ``http://localhost:5000/api/v1/lineage``).
        file: a file the events are appended to, one JSON object a line (relative to
            the project directory).
        namespace: the OpenLineage namespace of the jobs and datasets (default: the
            project directory's name).
        retries: how many times a failed delivery is retried, with exponential backoff.
        timeout: how long one delivery may take (``"10s"``, or seconds).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    file: str | None = None
    namespace: str | None = None
    retries: int = Field(default=3, ge=0)
    timeout: float = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return AlertSettings._webhook(value)

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return AlertSettings._timeout(value)

    @model_validator(mode="after")
    def _one_destination(self) -> OpenLineageSettings:
        if (self.url is None) == (self.file is None):
            raise ValueError("give exactly one of url or file")
        return self

    @property
    def destination(self) -> str:
        """The destination as it may be shown: a URL only as ``scheme://host``."""
        return f"url {url_origin(self.url)}" if self.url else f"file {self.file}"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (url_origin(value) if name == "url" and value else value)


class Settings(BaseModel):
    """A project's settings.

    Attributes:
        definitions: the module (``pkg.assets``) or file (``assets.py``) with the assets.
        storage: any fsspec URL or a path (relative to the project directory).
        storage_options: passed to fsspec (endpoint, credentials...).
        catalog: a SQLAlchemy URL; relative SQLite paths are relative to the project.
        lease_seconds: how long a partition lease lives without a heartbeat.
        pools: named concurrency pools (``[pools] api = 2``): at most that many steps of
            the assets declared with ``pool="api"`` run at once, across all runs.
        alerts: where failure and recovery events are sent (``[[alerts]]``).
        openlineage: where OpenLineage events are sent (``[openlineage]``), if anywhere.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    definitions: str = "assets.py"
    storage: str = DEFAULT_STORAGE
    storage_options: dict[str, Any] = Field(default_factory=dict)
    catalog: str = DEFAULT_CATALOG
    lease_seconds: float = Field(default=30.0, gt=0)
    pools: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    alerts: tuple[AlertSettings, ...] = ()
    openlineage: OpenLineageSettings | None = None

    @field_validator("pools")
    @classmethod
    def _pool_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            if not _POOL_NAME.fullmatch(name):
                raise ValueError(f"pool name {name!r}: use letters, digits, '_', '-' and '.'")
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr ends up in tracebacks and debug logs: never with the credentials.
        for name, value in super().__repr_args__():
            if name == "catalog":
                value = redact_url(value)
            elif name == "storage":
                value = redact_credentials(value)
            elif name == "storage_options":
                value = redact_options(value)
            yield name, value


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
    raise NotAProjectError(str(root))


def _describe(error: Mapping[str, Any]) -> str:
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.get("loc", ())
    ).lstrip(".")
    where = where or "settings"
    if error.get("type") == "extra_forbidden":
        loc = error.get("loc", ())
        known = {
            "alerts": AlertSettings.model_fields,
            "openlineage": OpenLineageSettings.model_fields,
        }.get(str(loc[0]) if loc else "", Settings.model_fields)
        return f"unknown setting {where!r} (known: {', '.join(known)})"
    message = error.get("msg", "")
    if error.get("type") == "value_error":
        message = str(error.get("ctx", {}).get("error", message))
    return f"{where}: {message}"


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
        error = exc.errors()[0]
        message = f"{source}: {_describe(error)}"
        if error.get("loc", ())[:1] in (("alerts",), ("openlineage",)):
            # The validation error holds the entry's values: a webhook URL is a secret.
            raise ConfigError(message) from None
        raise ConfigError(message) from exc


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
