"""Statuses and causes are enums: the product spells none of them as a string literal.

Run, step, attempt, tick and version statuses live in :mod:`partita.storage.statuses`,
partition statuses and their causes in :mod:`partita.core.plan.causes`. Every other
module of the installed package names them by their members, so a scan of its syntax
trees finds no string constant whose whole value is one of theirs.
"""

from __future__ import annotations

import ast
import enum
import importlib.util
import json
import types
from pathlib import Path

import pytest

from partita.core.plan import causes
from partita.storage import statuses

ENUM_MODULES = (statuses, causes)
PACKAGE = Path(importlib.util.find_spec("partita").origin).parent  # the installed package


def _enums(module: types.ModuleType) -> list[type[enum.StrEnum]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, enum.StrEnum)
        and value.__module__ == module.__name__
    ]


ENUMS = [found for module in ENUM_MODULES for found in _enums(module)]
VALUES = frozenset(member.value for found in ENUMS for member in found)
HOMES = frozenset(Path(module.__file__).relative_to(PACKAGE).as_posix() for module in ENUM_MODULES)
ALLOWED = {
    # The fate of a file gc could not remove, not the status of a run or step.
    ("core/maintenance/gc.py", "failed"),
    # A doctor finding, a version's file that is gone, not a partition's status.
    ("core/maintenance/doctor.py", "missing"),
}


def status_literals(source: str) -> list[tuple[int, str]]:
    """The ``(line, value)`` of each string constant in ``source`` that is a status or
    cause value, whole (longer text that contains one, like a message, is not)."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in VALUES
    ]


def test_the_enums_hold_the_statuses_and_causes() -> None:
    names = {found.__name__ for found in ENUMS}
    assert names >= {"RunStatus", "StepStatus", "AttemptStatus", "Freshness", "CauseKind"}
    assert {"running", "succeeded", "failed", "fresh", "stale", "missing", "forced"} <= VALUES


def test_no_product_module_spells_a_status_or_cause() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in HOMES:
            continue
        hits = [
            f"{line}: {value!r}"
            for line, value in status_literals(path.read_text(encoding="utf-8"))
            if (name, value) not in ALLOWED
        ]
        if hits:
            found[name] = hits
    assert found == {}, "name these by their enum members"


def test_the_scan_finds_a_status_literal() -> None:
    source = (
        'def finish(run):\n    run.detail = "running late"\n'
        '    return run.status == "running" or f"{run} failed"\n'
    )
    assert status_literals(source) == [(3, "running")]


@pytest.mark.parametrize("member", [m for found in ENUMS for m in found], ids=str)
def test_a_member_shows_as_its_value(member: enum.StrEnum) -> None:
    value = member.value
    assert type(value) is str
    assert member == value
    assert hash(member) == hash(value)
    assert str(member) == f"{member}" == format(member, "") == "%s" % (member,) == value  # noqa: UP031
    assert type(str(member)) is str
    assert json.dumps({member: [member]}) == json.dumps({value: [value]})
