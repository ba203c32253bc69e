"""The one error hierarchy of partita.

Every error partita raises on purpose is a :class:`PartitaError`. The CLI prints
one as a single line, without a traceback; exceptions from user code are kept as
``__cause__`` of a :class:`MaterializationError`.
"""

from __future__ import annotations


class PartitaError(Exception):
    """Base of every error partita raises on purpose."""


class DefinitionError(PartitaError):
    """An asset definition is invalid: unknown dependency, cycle, duplicate key,
    bad mapping or bad partition key."""


class PartitionKeyError(DefinitionError):
    """A partition key is malformed, unsafe, or outside its definition."""


class PlanError(PartitaError):
    """A request cannot be planned: bad targets or options."""


class PartitionRequiredError(PlanError):
    """A partitioned asset was asked for without a partition key.

    Attributes:
        asset: the asset's key.
        example: one of its partition keys (the latest), to suggest, if it has any.
    """

    def __init__(self, asset: str, example: str | None = None) -> None:
        hint = f" (e.g. {example})" if example else ""
        super().__init__(f"{asset} is partitioned: a partition key is required{hint}")
        self.asset = asset
        self.example = example


class NotPartitionedError(PlanError):
    """A partition key was given for an unpartitioned asset.

    Attributes:
        asset: the asset's key.
    """

    def __init__(self, asset: str) -> None:
        super().__init__(f"{asset} is not partitioned: it takes no partition key")
        self.asset = asset


class ConfigError(PartitaError):
    """A configuration value is missing or invalid."""


class NotAProjectError(ConfigError):
    """A directory holds no partita configuration.

    Attributes:
        root: the directory.
    """

    def __init__(self, root: str) -> None:
        super().__init__(
            f"{root} is not a partita project: no partita.toml or [tool.partita] in "
            'pyproject.toml; create partita.toml with definitions = "assets.py", or open the '
            "directory that has one"
        )
        self.root = root


class StorageError(PartitaError):
    """Reading, writing or deleting data failed."""


class SchemaError(StorageError):
    """An asset's output does not match its declared schema."""


class CatalogError(PartitaError):
    """The catalog cannot be reached, or a catalog operation failed."""


class LeaseLostError(CatalogError):
    """A writer's lease was taken over: its fencing token is no longer current."""


class QueryError(PartitaError):
    """A SQL query over the assets' data is invalid or cannot run."""


class MaterializationError(PartitaError):
    """An asset's step failed; the user's exception is kept as ``__cause__``."""

    def __init__(self, asset: str, partition: str | None, attempt: int, message: str) -> None:
        where = f"{asset} [{partition}]" if partition else asset
        super().__init__(f"{where} failed on attempt {attempt}: {message}")
        self.asset = asset
        self.partition = partition
        self.attempt = attempt


__all__ = [
    "CatalogError",
    "ConfigError",
    "DefinitionError",
    "LeaseLostError",
    "MaterializationError",
    "NotAProjectError",
    "NotPartitionedError",
    "PartitaError",
    "PartitionKeyError",
    "PartitionRequiredError",
    "PlanError",
    "QueryError",
    "SchemaError",
    "StorageError",
]
