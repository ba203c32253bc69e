"""``@asset``: keys, dependencies from parameters, context, retries and declarations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import partita as pt
from partita.assets import AllPartitions, Asset, Dep, RetryPolicy, Window
from partita.errors import DefinitionError

DAILY = pt.DailyPartitions(start="2026-04-01")


def raw_sales(ctx: pt.Context) -> int:
    """The day's orders.

    More detail that is not shown in listings.
    """
    return 1


def clean_sales(raw_sales: int, context) -> int:  # the context found by its name
    return raw_sales


def report(weekly: int, ctx: pt.Context) -> str:
    return str(weekly)


def annotated(c: pt.Context, upstream: int) -> int:
    return upstream


def string_annotated(c: Context) -> int:  # noqa: F821 - a string annotation is never evaluated
    return 0


def starred(*frames: int) -> int:
    return sum(frames)


def keywords(**frames: int) -> int:
    return 0


def test_the_key_defaults_to_the_function_name() -> None:
    declared = pt.asset(raw_sales)
    assert isinstance(declared, Asset)
    assert declared.key == "raw_sales"
    assert declared.partitions is None
    assert declared.deps == ()
    assert declared.context_param == "ctx"


def test_decorator_with_arguments() -> None:
    declared = pt.asset(key="sales/raw", partitions=DAILY, retries=3, format="md")(raw_sales)
    assert declared.key == "sales/raw"
    assert declared.partitions == DAILY
    assert declared.retry == RetryPolicy(retries=3, delay=1.0)
    assert declared.format == "md"


@pytest.mark.parametrize("key", ["Sales", "sales-raw", "/sales", "sales/", "sales//raw", "a.b"])
def test_a_bad_asset_key_is_a_definition_error(key: str) -> None:
    with pytest.raises(DefinitionError, match=f"invalid asset key {key!r}"):
        pt.asset(key=key)(raw_sales)


def test_a_function_name_that_is_not_a_valid_key_needs_key() -> None:
    def CamelCase() -> int:
        return 0

    with pytest.raises(DefinitionError, match="invalid asset key 'CamelCase'"):
        pt.asset(CamelCase)


def test_parameters_name_dependencies_and_the_context_is_not_one() -> None:
    declared = pt.asset(clean_sales)
    assert declared.deps == (Dep(asset="raw_sales", param="raw_sales"),)
    assert declared.context_param == "context"


def test_the_context_is_found_by_its_annotation() -> None:
    assert pt.asset(annotated).context_param == "c"
    assert [d.asset for d in pt.asset(annotated).deps] == ["upstream"]
    assert pt.asset(string_annotated).context_param == "c"
    assert pt.asset(string_annotated).deps == ()


def test_deps_gives_mappings_to_parameters_and_adds_ordering_dependencies() -> None:
    declared = pt.asset(deps={"weekly": Window(days=7), "audit": AllPartitions()})(report)
    assert declared.deps == (
        Dep(asset="weekly", mapping=Window(days=7), param="weekly"),
        Dep(asset="audit", mapping=AllPartitions(), param=None),
    )


def test_deps_as_a_list_of_keys() -> None:
    declared = pt.asset(deps=["audit", "weekly"])(report)
    assert [(d.asset, d.param) for d in declared.deps] == [("weekly", "weekly"), ("audit", None)]


def test_deps_as_a_single_string_is_one_key() -> None:
    assert pt.asset(deps="audit")(raw_sales).deps == (Dep(asset="audit"),)


def test_a_dep_object_renames_the_upstream_of_a_parameter() -> None:
    declared = pt.asset(deps={"weekly": Dep(asset="sales/weekly", mapping=Window(days=2))})(report)
    assert declared.deps == (Dep(asset="sales/weekly", mapping=Window(days=2), param="weekly"),)
    ordering = pt.asset(deps={"x": Dep(asset="sales/x", param="ignored")})(raw_sales)
    assert ordering.deps == (Dep(asset="sales/x", param=None),)


def test_the_same_upstream_twice_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="report: depends on 'weekly' twice"):
        pt.asset(deps={"other": Dep(asset="weekly")})(report)


@pytest.mark.parametrize("fn", [starred, keywords])
def test_star_parameters_cannot_name_dependencies(fn) -> None:
    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs cannot name dependencies"):
        pt.asset(fn)


def test_invalid_options_are_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="@asset raw_sales: "):
        pt.asset(retries=-1)(raw_sales)


def test_the_description_is_the_first_docstring_line() -> None:
    assert pt.asset(raw_sales).description == "The day's orders."
    assert pt.asset(description="Orders.")(raw_sales).description == "Orders."
    assert pt.asset(report).description is None


def test_an_asset_is_callable_and_frozen() -> None:
    declared = pt.asset(report)
    assert declared(weekly=3, ctx=None) == "3"
    with pytest.raises(ValidationError):
        declared.key = "other"  # type: ignore[misc]


def test_declaring_has_no_side_effects() -> None:
    first = pt.asset(raw_sales)
    second = pt.asset(raw_sales)
    assert first is not second
    assert first.fn is second.fn is raw_sales
    assert first.code_version == second.code_version


def test_declaration_lists_what_changes_the_output() -> None:
    declared = pt.asset(partitions=DAILY, deps={"weekly": Window(days=7)}, format="md")(report)
    assert declared.declaration() == {
        "partitions": {"kind": "daily", "timezone": "UTC", "dimension": "date"},
        "deps": [
            {
                "asset": "weekly",
                "mapping": {"kind": "window", "size": 7, "offset": 0},
                "param": "weekly",
            }
        ],
        "format": "md",
        "schema": None,
    }


def test_code_version_is_a_short_stable_hash() -> None:
    version = pt.asset(raw_sales).code_version
    assert len(version) == 16
    int(version, 16)
    assert pt.asset(code_version="1")(raw_sales).code_version != version


def test_retry_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(retries=5, delay=1.0, max_delay=5.0)
    assert [policy.backoff(n, 1.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.backoff(3, 0.5) == 2.0
    assert policy.backoff(3, 0.0) == 0.0
    assert pt.asset(retries=2, retry_delay=0.5)(raw_sales).retry == RetryPolicy(
        retries=2, delay=0.5
    )
