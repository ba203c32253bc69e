"""``@asset``: a function plus what partita needs to know to build it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from partita.assets.automation import Eager, check_name
from partita.assets.codeversion import code_version, describe_schema, function_fingerprint
from partita.assets.keys import check_asset_key
from partita.assets.mappings import PartitionMapping
from partita.assets.messages import one_line
from partita.assets.partitions.base import PartitionsDefinition
from partita.errors import DefinitionError

CONTEXT_NAMES = frozenset({"ctx", "context"})


class Dep(BaseModel):
    """A dependency on another asset.

    Attributes:
        asset: the upstream asset's key.
        mapping: which upstream partitions each partition reads (default: identity
            between same-partitioned assets, all partitions for an unpartitioned one).
        param: the parameter that receives the upstream value, or ``None`` when the
            value is not passed (an ordering/freshness dependency only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str
    mapping: PartitionMapping | None = None
    param: str | None = None


class RetryPolicy(BaseModel):
    """Retries with exponential backoff and full jitter.

    The delay before retry ``n`` (1-based) is uniform in
    ``[0, min(max_delay, delay * 2 ** (n - 1))]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    retries: int = Field(default=0, ge=0)
    delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=60.0, ge=0)

    def backoff(self, retry: int, jitter: float) -> float:
        """The delay before retry ``retry`` given a random ``jitter`` in ``[0, 1)``."""
        return jitter * min(self.max_delay, self.delay * 2.0 ** (retry - 1))


class Asset(BaseModel):
    """A declared data asset. Build one with :func:`asset`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    key: str
    fn: Callable[..., Any]
    partitions: PartitionsDefinition | None = None
    deps: tuple[Dep, ...] = ()
    context_param: str | None = None
    retry: RetryPolicy = RetryPolicy()
    format: str | None = None
    output_schema: Any = None
    explicit_code_version: str | None = None
    description: str | None = None
    automation: Eager | None = None
    pool: str | None = None
    max_concurrency: int | None = Field(default=None, ge=1)

    @field_validator("pool")
    @classmethod
    def _pool_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name("pool", value)

    def declaration(self) -> dict[str, Any]:
        """Everything declared that changes what the asset produces."""
        return {
            "partitions": self.partitions.shape() if self.partitions else None,
            "deps": [d.model_dump(mode="json") for d in self.deps],
            "format": self.format,
            "schema": describe_schema(self.output_schema),
        }

    @cached_property
    def code_version(self) -> str:
        """The code version: syntax-tree hash (or explicit version) plus declaration."""
        part = self.explicit_code_version or function_fingerprint(self.fn)
        return code_version(part, self.declaration())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def _signature_deps(fn: Callable[..., Any]) -> tuple[list[str], str | None]:
    params: list[str] = []
    context_param: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"{fn.__name__}: *args/**kwargs cannot name dependencies")
        annotation = param.annotation
        is_context = param.name in CONTEXT_NAMES or (
            getattr(annotation, "__name__", None) == "Context"
            or (isinstance(annotation, str) and annotation.split(".")[-1] == "Context")
        )
        if is_context:
            context_param = param.name
        else:
            params.append(param.name)
    return params, context_param


def _resolve_deps(
    name: str,
    params: list[str],
    deps: Mapping[str, PartitionMapping | Dep | None] | Sequence[str] | None,
) -> tuple[Dep, ...]:
    if isinstance(deps, str):  # a str is a Sequence too: deps="raw" means ["raw"], not r, a, w
        deps = [deps]
    declared: dict[str, PartitionMapping | Dep | None] = (
        dict.fromkeys(deps) if isinstance(deps, Sequence) else dict(deps or {})
    )
    resolved: list[Dep] = []
    for param in params:
        spec = declared.pop(param, None)
        if isinstance(spec, Dep):
            resolved.append(spec.model_copy(update={"param": param}))
        else:
            resolved.append(Dep(asset=param, mapping=spec, param=param))
    for key, spec in declared.items():
        if isinstance(spec, Dep):
            resolved.append(spec.model_copy(update={"param": None}))
        else:
            resolved.append(Dep(asset=key, mapping=spec))
    seen: set[str] = set()
    for dep in resolved:
        if dep.asset in seen:
            raise DefinitionError(f"{name}: depends on {dep.asset!r} twice")
        seen.add(dep.asset)
    return tuple(resolved)


@overload
def asset(fn: Callable[..., Any], /) -> Asset: ...
@overload
def asset(
    *,
    key: str | None = None,
    partitions: PartitionsDefinition | None = None,
    deps: Mapping[str, PartitionMapping | Dep | None] | Sequence[str] | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    format: str | None = None,
    schema: Any = None,
    code_version: str | None = None,
    description: str | None = None,
    automation: Eager | None = None,
    pool: str | None = None,
    max_concurrency: int | None = None,
) -> Callable[[Callable[..., Any]], Asset]: ...
def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    key: str | None = None,
    partitions: PartitionsDefinition | None = None,
    deps: Mapping[str, PartitionMapping | Dep | None] | Sequence[str] | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    format: str | None = None,
    schema: Any = None,
    code_version: str | None = None,
    description: str | None = None,
    automation: Eager | None = None,
    pool: str | None = None,
    max_concurrency: int | None = None,
) -> Asset | Callable[[Callable[..., Any]], Asset]:
    """Declare a data asset. Declaring has no side effects.

    Args:
        key: the asset key (default: the function's name).
        partitions: e.g. ``DailyPartitions(start="2026-01-01")``; ``None`` = unpartitioned.
        deps: mappings for parameter dependencies (``{"clean_sales": Window(days=7)}``),
            and dependencies whose value is not passed (keys that are not parameters).
        retries: extra attempts after a failure, with exponential backoff and jitter.
        retry_delay: the base delay in seconds before the first retry.
        format: file extension for text/bytes outputs (``"md"``, ``"html"``).
        schema: a pydantic model or pyarrow schema the output table must match.
        code_version: an explicit code version, replacing the syntax-tree hash.
        description: shown in listings (default: the docstring's first line).
        automation: ``Eager(window=...)`` to rebuild partitions when upstream data they
            map to changes (evaluated by ``partita daemon``).
        pool: a named pool from ``[pools]`` in partita.toml: at most that many steps
            of all assets in the pool run at once, across all runs.
        max_concurrency: at most this many steps of this asset run at once, across
            all runs.
    """

    def build(func: Callable[..., Any]) -> Asset:
        name = key or func.__name__
        check_asset_key(name)
        params, context_param = _signature_deps(func)
        doc = (inspect.getdoc(func) or "").strip().splitlines()
        try:
            return Asset(
                key=name,
                fn=func,
                partitions=partitions,
                deps=_resolve_deps(name, params, deps),
                context_param=context_param,
                retry=RetryPolicy(retries=retries, delay=retry_delay),
                format=format,
                output_schema=schema,
                explicit_code_version=code_version,
                description=description or (doc[0] if doc else None),
                automation=automation,
                pool=pool,
                max_concurrency=max_concurrency,
            )
        except ValidationError as exc:
            raise DefinitionError(f"@asset {name}: {one_line(exc)}") from exc
        except DefinitionError as exc:  # raised by a field's own check
            raise DefinitionError(f"@asset {name}: {exc}") from exc

    return build(fn) if fn is not None else build
