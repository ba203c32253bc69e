"""Optional extras: which ``partita[...]`` extra installs a module that failed to import.

The few places that import an optional package (the catalog's database driver, the
store's filesystem, DuckDB, Dask, the web UI, a definitions file) catch the ImportError
and raise the project's own error, worded by :func:`needs_extra` or :func:`extra_hint`,
so that a missing extra is one line naming what to install.
"""

from __future__ import annotations

from dataclasses import dataclass

# Top-level module -> the extra that installs it (pyproject.toml's optional-dependencies).
EXTRAS: dict[str, str] = {
    "pandas": "pandas",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "s3fs": "s3",
    "aiobotocore": "s3",
    "botocore": "s3",
    "duckdb": "query",
    "fastapi": "ui",
    "starlette": "ui",
    "uvicorn": "ui",
    "jinja2": "ui",
    "distributed": "dask",
    "dask": "dask",
}


@dataclass(frozen=True, slots=True)
class MissingExtra:
    """An optional module that is not installed, and the extra that installs it."""

    module: str
    extra: str

    @property
    def command(self) -> str:
        """The pip command that installs the extra."""
        return install_command(self.extra)


def install_command(extra: str) -> str:
    """The pip command that installs ``extra``."""
    return f"pip install 'partita[{extra}]'"


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The extra whose module failed to import in ``exc`` or in the exceptions it was
    raised from (fsspec, for one, raises its own ImportError from the original one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError) and current.name:
            module = current.name.partition(".")[0]
            if module in EXTRAS:
                return MissingExtra(module, EXTRAS[module])
        current = current.__cause__ or current.__context__
    return None


def needs_extra(what: str, exc: BaseException, default: str | None = None) -> str | None:
    """``"<what> needs the <extra> extra: pip install 'partita[<extra>]' (<module> is
    missing)"``, or None when ``exc`` names no module of an extra and there is no
    ``default`` extra."""
    found = missing_extra(exc)
    module: str | None
    if found is not None:
        extra, module = found.extra, found.module
    elif default is not None:
        extra, module = default, getattr(exc, "name", None)
    else:
        return None
    missing = f" ({module} is missing)" if module else ""
    return f"{what} needs the {extra} extra: {install_command(extra)}{missing}"


def extra_hint(exc: BaseException) -> str:
    """``"; <module> is in the <extra> extra: pip install 'partita[<extra>]'"`` to add
    to a message about ``exc``, or ``""`` when no extra installs the missing module."""
    found = missing_extra(exc)
    if found is None:
        return ""
    return f"; {found.module} is in the {found.extra} extra: {found.command}"
