"""AssetGraph: validation errors before anything runs, topological order, closures."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import partita as pt
from partita.assets import AllPartitions, AssetGraph, Edge, Identity, LastPartition, Window
from partita.errors import DefinitionError

DAILY = pt.DailyPartitions(start="2026-04-01")


def node(ctx: pt.Context) -> int:
    return 0


def make(key: str, deps: dict | None = None, partitions: pt.DailyPartitions | None = DAILY):
    """An asset ``key`` reading ``deps`` (asset -> mapping or None)."""
    return pt.asset(key=key, partitions=partitions, deps=deps or {}, code_version="1")(node)


def raw_sales(ctx: pt.Context) -> int:
    return 1


def clean_sales(raw_sales: int) -> int:
    return raw_sales


def sales_report(clean_sales: int) -> str:
    return str(clean_sales)


def sales_summary(clean_sales: list) -> int:
    return len(clean_sales)


def test_a_pipeline_in_topological_order() -> None:
    graph = AssetGraph(
        [
            pt.asset(partitions=DAILY)(sales_report),
            pt.asset(partitions=DAILY)(clean_sales),
            pt.asset(partitions=DAILY)(raw_sales),
            pt.asset(sales_summary),
        ]
    )
    assert graph.order == ("raw_sales", "clean_sales", "sales_report", "sales_summary")
    assert [a.key for a in graph.assets] == list(graph.order)
    assert len(graph) == 4
    assert "raw_sales" in graph
    assert "nope" not in graph
    assert graph.upstream("clean_sales") == (
        Edge(upstream="raw_sales", downstream="clean_sales", mapping=Identity(), param="raw_sales"),
    )
    assert graph.upstream("sales_summary")[0].mapping == AllPartitions()
    assert {e.downstream for e in graph.downstream("clean_sales")} == {
        "sales_report",
        "sales_summary",
    }
    assert graph.downstream("sales_report") == ()


def test_closures() -> None:
    graph = AssetGraph([make("a"), make("b", {"a": None}), make("c", {"b": None}), make("d")])
    assert graph.closure_upstream(["c"]) == {"a", "b", "c"}
    assert graph.closure_upstream(["b", "d"]) == {"a", "b", "d"}
    assert graph.closure_downstream(["a"]) == {"a", "b", "c"}
    assert graph.closure_downstream(["d"]) == {"d"}


def test_get_an_unknown_asset_suggests_and_lists() -> None:
    graph = AssetGraph([make("raw_sales"), make("clean_sales")])
    with pytest.raises(DefinitionError) as info:
        graph.get("raw_sale")
    assert str(info.value) == (
        "unknown asset 'raw_sale': did you mean 'raw_sales'? known assets: clean_sales, raw_sales"
    )
    with pytest.raises(DefinitionError, match=r"^unknown asset 'zzz': known assets: "):
        graph.get("zzz")


def test_an_unknown_dependency_is_named_with_a_suggestion() -> None:
    with pytest.raises(DefinitionError) as info:
        AssetGraph([make("raw_sales"), make("clean", {"raw_sale": None})])
    assert str(info.value) == (
        "asset 'clean' depends on 'raw_sale', which is not defined; did you mean 'raw_sales'?"
    )


def test_an_unknown_dependency_without_a_close_match() -> None:
    with pytest.raises(DefinitionError) as info:
        AssetGraph([make("raw_sales"), make("clean", {"weather": None})])
    assert str(info.value) == "asset 'clean' depends on 'weather', which is not defined"


def test_a_cycle_is_named() -> None:
    with pytest.raises(DefinitionError) as info:
        AssetGraph([make("a", {"b": None}), make("b", {"a": None})])
    assert str(info.value) == "dependency cycle: a -> b -> a"


def test_a_longer_cycle_behind_a_tail_is_named_without_the_tail() -> None:
    with pytest.raises(DefinitionError) as info:
        AssetGraph(
            [
                make("a", {"b": None}),
                make("b", {"c": None}),
                make("c", {"d": None}),
                make("d", {"b": None}),
            ]
        )
    assert str(info.value) == "dependency cycle: b -> c -> d -> b"


def test_a_self_dependency_must_read_earlier_partitions() -> None:
    with pytest.raises(DefinitionError, match=r"^asset 'a' depends on itself: .* use Previous\(\)"):
        AssetGraph([make("a", {"a": Window(days=2)})])


def test_a_self_dependency_on_earlier_partitions_is_not_a_cycle() -> None:
    graph = AssetGraph(
        [make("a", {"a": pt.Previous()}), make("b", {"a": None, "b": Window(size=3, offset=-1)})]
    )
    assert graph.order == ("a", "b")
    assert graph.self_dependent("a") and graph.self_dependent("b")


def test_duplicate_keys() -> None:
    with pytest.raises(DefinitionError) as info:
        AssetGraph([make("a"), make("b"), make("a")])
    assert str(info.value) == "two assets share the key 'a'; rename one"


def test_the_same_asset_twice_is_not_a_duplicate() -> None:
    a = make("a")
    assert AssetGraph([a, a]).order == ("a",)


@pytest.mark.parametrize(
    ("down", "up", "mapping", "message"),
    [
        (None, DAILY, Window(days=2), r"^b <- a: Window\(...\) needs time partitions on both"),
        (DAILY, None, Window(days=2), r"^b <- a: Window\(...\) needs time partitions on both"),
        (
            DAILY,
            pt.HourlyPartitions(start="2026-04-01"),
            Window(days=2),
            r"^b <- a: Window\(...\) counts partitions of one granularity.*use Containment\(\)",
        ),
        (DAILY, pt.StaticPartitions(["eu"]), None, r"^b <- a: Identity\(\) maps a key to the same"),
        (None, DAILY, Identity(), r"^b <- a: an unpartitioned asset cannot read one partition"),
        (
            DAILY,
            pt.DailyPartitions(start="2026-04-01", timezone="Asia/Tokyo"),
            Identity(),
            r"^b <- a: Identity\(\) maps a key to the same key, but the partitions differ "
            r"\(daily from 2026-04-01 \(UTC\) and daily from 2026-04-01 \(Asia/Tokyo\)\)",
        ),
    ],
)
def test_incompatible_mappings(down, up, mapping, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        AssetGraph([make("a", partitions=up), make("b", {"a": mapping}, partitions=down)])


@pytest.mark.parametrize(
    ("down", "up", "expected"),
    [
        (DAILY, DAILY, Identity()),
        (None, DAILY, AllPartitions()),
        (DAILY, None, Identity()),
        (None, None, Identity()),
    ],
)
def test_default_mappings(down, up, expected) -> None:
    graph = AssetGraph([make("a", partitions=up), make("b", {"a": None}, partitions=down)])
    assert graph.upstream("b")[0].mapping == expected


def test_an_explicit_mapping_is_kept() -> None:
    graph = AssetGraph([make("a"), make("b", {"a": LastPartition()}, partitions=None)])
    assert graph.upstream("b")[0] == Edge("a", "b", LastPartition(), None)


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: each asset depends on some assets earlier in a shuffled list."""
    names = draw(st.permutations([f"n{i}" for i in range(draw(st.integers(1, 8)))]))
    return {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }


@given(dags())
def test_the_order_puts_every_upstream_first(deps: dict[str, list[str]]) -> None:
    graph = AssetGraph([make(k, dict.fromkeys(v)) for k, v in deps.items()])
    assert sorted(graph.order) == sorted(deps)
    position = {key: i for i, key in enumerate(graph.order)}
    for key, ups in deps.items():
        assert all(position[up] < position[key] for up in ups)
        assert graph.closure_upstream([key]) >= {key, *ups}
    shuffled = AssetGraph([make(k, dict.fromkeys(v)) for k, v in reversed(deps.items())])
    assert shuffled.order == graph.order  # independent of declaration order


@given(dags(), st.data())
def test_a_back_edge_makes_a_named_cycle(deps: dict[str, list[str]], data: st.DataObject) -> None:
    names = list(deps)
    if len(names) < 2:
        return
    graph = AssetGraph([make(k, dict.fromkeys(v)) for k, v in deps.items()])
    later = data.draw(st.sampled_from(names[1:]))
    earlier = data.draw(st.sampled_from(sorted(graph.closure_upstream([later]) - {later}) or [""]))
    if not earlier:
        return
    deps[earlier] = [*deps[earlier], later]  # later already depends on earlier: a cycle
    with pytest.raises(DefinitionError, match=r"^dependency cycle: ") as info:
        AssetGraph([make(k, dict.fromkeys(v)) for k, v in deps.items()])
    cycle = str(info.value).removeprefix("dependency cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1]
    assert len(set(cycle)) == len(cycle) - 1
    for down, up in itertools.pairwise(cycle):
        assert up in deps[down]  # each arrow is a real dependency
