"""Code versions: blind to formatting, comments and docstrings; sensitive to what is computed.

Each case writes a definitions file under a new module name and loads it the way a
project does, so the versions come from real source files.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from partita.assets import AssetGraph
from partita.assets.codeversion import code_version, describe_schema, function_fingerprint
from partita.errors import DefinitionError

LoadDefs = Callable[[str], AssetGraph]

BASE = '''
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")


@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int:
    return 1


@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})
def down(up: int) -> int:
    """Add one."""
    total = up + 1  # the total
    return total
'''

SAME = {
    "reformatted": '''
import partita as pt
daily = pt.DailyPartitions(start = "2026-01-01")
@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int: return 1
@pt.asset(
    partitions=daily,
    deps={
        "up": pt.Window(days=2),
    },
)
def down(
    up: int,
) -> int:
    """Add one."""
    total = (
        up
        + 1
    )
    return (total)
''',
    "comments": '''
import partita as pt

# a comment before
daily = pt.DailyPartitions(start="2026-01-01")


@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int:
    return 1


@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})  # comment
def down(up: int) -> int:
    # a comment at the top
    """Add one."""
    # another comment
    total = up + 1
    return total  # returned
''',
    "docstring changed": '''
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")


@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int:
    return 1


@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})
def down(up: int) -> int:
    """Add one to the upstream value.

    A longer explanation that changes nothing.
    """
    total = up + 1
    return total
''',
    "docstring removed": """
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")


@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int:
    return 1


@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})
def down(up: int) -> int:
    total = up + 1
    return total
""",
    "moved down the file": '''
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")

UNRELATED = [1, 2, 3]


def helper() -> int:
    return 0


@pt.asset(partitions=daily)
def up(ctx: pt.Context) -> int:
    return 1


@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})
def down(up: int) -> int:
    """Add one."""
    total = up + 1
    return total
''',
}

DIFFERENT = {
    "body": ("total = up + 1", "total = up + 2"),
    "variable renamed": (
        "total = up + 1  # the total\n    return total",
        "t = up + 1\n    return t",
    ),
    "statement added": ("return total", "total *= 1\n    return total"),
    "return annotation": ("def down(up: int) -> int:", "def down(up: int) -> float:"),
    "partitions timezone": ('start="2026-01-01"', 'start="2026-01-01", timezone="Europe/Paris"'),
    "partitions granularity": ("pt.DailyPartitions(", "pt.WeeklyPartitions("),
    "mapping": ("pt.Window(days=2)", "pt.Window(days=3)"),
    "mapping kind": (
        'deps={"up": pt.Window(days=2)}',
        'deps={"up": pt.Identity()}',
    ),
    "format": (
        'deps={"up": pt.Window(days=2)})',
        'deps={"up": pt.Window(days=2)}, format="md")',
    ),
    "ordering dependency": (
        '\n@pt.asset(partitions=daily, deps={"up": pt.Window(days=2)})\ndef down',
        "\n@pt.asset(partitions=daily)\ndef extra(ctx): ...\n"
        '\n@pt.asset(partitions=daily, deps={"up": pt.Window(days=2), "extra": None})\ndef down',
    ),
}


def version(load_defs: LoadDefs, source: str, asset: str = "down") -> str:
    return load_defs(source).get(asset).code_version


@pytest.mark.parametrize("change", sorted(SAME))
def test_formatting_comments_and_docstrings_do_not_change_it(
    load_defs: LoadDefs, change: str
) -> None:
    assert version(load_defs, SAME[change]) == version(load_defs, BASE)
    assert version(load_defs, SAME[change], "up") == version(load_defs, BASE, "up")


@pytest.mark.parametrize("change", sorted(DIFFERENT))
def test_what_is_computed_changes_it(load_defs: LoadDefs, change: str) -> None:
    old, new = DIFFERENT[change]
    assert old in BASE
    changed = BASE.replace(old, new)
    assert version(load_defs, changed) != version(load_defs, BASE)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('start="2026-01-01"', 'start="2025-01-01"'),
        ('start="2026-01-01"', 'start="2026-03-01"'),
        ('start="2026-01-01"', 'start="2026-01-01", end="2027-01-01"'),
        ('start="2026-01-01"', 'start="2026-01-01", end_offset=1'),
    ],
)
def test_moving_the_range_keeps_it(load_defs: LoadDefs, old: str, new: str) -> None:
    # Built partitions stay fresh when the start moves: only new keys are missing.
    assert old in BASE
    assert version(load_defs, BASE.replace(old, new)) == version(load_defs, BASE)


def test_a_change_upstream_does_not_change_the_downstream_code_version(load_defs: LoadDefs) -> None:
    changed = BASE.replace("return 1", "return 2")
    assert version(load_defs, changed, "up") != version(load_defs, BASE, "up")
    assert version(load_defs, changed) == version(load_defs, BASE)


SCHEMA = """
import pydantic
import partita as pt


class Row(pydantic.BaseModel):
    day: str
    amount: {amount}


@pt.asset(schema=Row)
def table() -> list:
    return []
"""


def test_a_schema_change_changes_it(load_defs: LoadDefs) -> None:
    as_int = version(load_defs, SCHEMA.replace("{amount}", "int"), "table")
    as_float = version(load_defs, SCHEMA.replace("{amount}", "float"), "table")
    again = version(load_defs, SCHEMA.replace("{amount}", "int"), "table")
    assert as_int != as_float
    assert as_int == again


def test_a_pyarrow_schema_change_changes_it(load_defs: LoadDefs) -> None:
    source = """
import pyarrow as pa
import partita as pt


@pt.asset(schema=pa.schema([("amount", pa.{type}())]))
def table() -> list:
    return []
"""
    as_int = version(load_defs, source.replace("{type}", "int64"), "table")
    as_float = version(load_defs, source.replace("{type}", "float64"), "table")
    assert as_int != as_float


EXPLICIT = """
import partita as pt


@pt.asset(code_version="{cv}"{more})
def pinned() -> int:
    return {body}
"""


def explicit(load_defs: LoadDefs, cv: str, body: str, more: str = "") -> str:
    source = EXPLICIT.replace("{cv}", cv).replace("{body}", body).replace("{more}", more)
    return version(load_defs, source, "pinned")


def test_an_explicit_code_version_replaces_the_function_part(load_defs: LoadDefs) -> None:
    assert explicit(load_defs, "1", "1") == explicit(load_defs, "1", "2")
    assert explicit(load_defs, "1", "1") != explicit(load_defs, "2", "1")


def test_the_declaration_still_counts_with_an_explicit_code_version(load_defs: LoadDefs) -> None:
    daily = ', partitions=pt.DailyPartitions(start="2026-01-01")'
    assert explicit(load_defs, "1", "1") != explicit(load_defs, "1", "1", daily)
    assert explicit(load_defs, "1", "1") != explicit(load_defs, "1", "1", ', format="md"')


def test_nested_definitions_are_part_of_it(load_defs: LoadDefs) -> None:
    source = '''
import partita as pt


@pt.asset
def outer() -> int:
    def inner() -> int:
        """Inner docstring."""
        return {value}

    return inner()
'''
    one = version(load_defs, source.replace("{value}", "1"), "outer")
    same = version(
        load_defs, source.replace("{value}", "1").replace("Inner docstring.", "Other."), "outer"
    )
    two = version(load_defs, source.replace("{value}", "1 + 1"), "outer")
    assert one == same
    assert one != two


# -- without source: the bytecode fallback -------------------------------------------------


def _exec(source: str) -> object:
    scope: dict[str, object] = {}
    exec(compile(source, "<no file>", "exec"), scope)
    return scope["fn"]


def test_without_source_the_bytecode_is_hashed_without_the_docstring() -> None:
    # Only a docstring's text is ignored: adding or removing one shifts the bytecode's
    # constants, which the fallback cannot undo without the source.
    documented = _exec('def fn(x):\n    """Doc."""\n    return x + 1\n')
    redocumented = _exec('def fn(x):\n    """Another doc."""\n    return x + 1\n')
    other = _exec('def fn(x):\n    """Doc."""\n    return x + 2\n')
    assert function_fingerprint(documented) == function_fingerprint(redocumented)
    assert function_fingerprint(documented) != function_fingerprint(other)


def test_a_callable_without_code_needs_an_explicit_version() -> None:
    with pytest.raises(DefinitionError, match="pass code_version= to @asset"):
        function_fingerprint(len)


def test_code_version_combines_both_parts() -> None:
    declaration = {"partitions": None, "deps": [], "format": None, "schema": None}
    assert code_version("a", declaration) == code_version("a", dict(declaration))
    assert code_version("a", declaration) != code_version("b", declaration)
    assert code_version("a", declaration) != code_version("a", {**declaration, "format": "md"})


def test_describe_schema() -> None:
    import pyarrow as pa
    import pydantic

    class Row(pydantic.BaseModel):
        amount: int

    assert describe_schema(None) is None
    assert '"amount"' in (describe_schema(Row) or "")
    assert describe_schema(pa.schema([("amount", pa.int64())])) == "amount: int64"
