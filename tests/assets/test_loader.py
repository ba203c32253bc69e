"""Loading definitions from a file or module: collected, validated, clear one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from partita.assets import AssetGraph, collect_assets, load_graph, load_module
from partita.errors import DefinitionError

WriteDefs = Callable[[str], str]
LoadDefs = Callable[[str], AssetGraph]

PIPELINE = """
import partita as pt

daily = pt.DailyPartitions(start="2026-01-01")
NOT_AN_ASSET = 3


def helper() -> int:
    return 1


@pt.asset(partitions=daily)
def raw_sales(ctx: pt.Context) -> int:
    return helper()


@pt.asset(partitions=daily)
def clean_sales(raw_sales: int) -> int:
    return raw_sales


alias = clean_sales  # the same asset under a second name
"""


def one_line_error(load: Callable[[], object]) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        load()
    assert "\n" not in str(info.value)
    return info.value


def test_a_file_is_loaded_into_a_validated_graph(load_defs: LoadDefs) -> None:
    graph = load_defs(PIPELINE)
    assert graph.order == ("raw_sales", "clean_sales")


def test_collect_assets_takes_each_asset_once(write_defs: WriteDefs, tmp_path: Path) -> None:
    module = load_module(write_defs(PIPELINE), tmp_path)
    assert sorted(a.key for a in collect_assets(module)) == ["clean_sales", "raw_sales"]


def test_a_dotted_module_name_is_imported_from_the_base_dir(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    name = write_defs(PIPELINE).removesuffix(".py")
    assert load_graph(name, tmp_path).order == ("raw_sales", "clean_sales")


def test_a_file_in_a_subfolder(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs(PIPELINE)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / name).rename(tmp_path / "pipelines" / name)
    assert len(load_graph(f"pipelines/{name}", tmp_path)) == 2


def test_assets_imported_from_another_module_are_collected(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    first = write_defs(PIPELINE).removesuffix(".py")
    second = write_defs(
        f"""
        import partita as pt
        from {first} import raw_sales


        @pt.asset(partitions=raw_sales.partitions)
        def report(raw_sales: int) -> str:
            return str(raw_sales)
        """
    )
    assert load_graph(second, tmp_path).order == ("raw_sales", "report")


def test_editing_a_loaded_file_and_loading_it_again_sees_the_edit(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    name = write_defs(PIPELINE)
    before = load_graph(name, tmp_path).get("clean_sales").code_version
    (tmp_path / name).write_text(PIPELINE.replace("return raw_sales", "return raw_sales * 2"))
    after = load_graph(name, tmp_path).get("clean_sales").code_version
    assert before != after


def test_a_module_with_no_assets(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs("import partita as pt\n\nX = 1\n")
    assert collect_assets(load_module(name, tmp_path)) == []
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error) == f"no assets found in {name!r}; decorate functions with @asset"


def test_a_missing_file(tmp_path: Path) -> None:
    error = one_line_error(lambda: load_graph("nope.py", tmp_path))
    assert str(error) == (
        f"definitions file {tmp_path / 'nope.py'} does not exist; set 'definitions' in partita.toml"
    )


def test_a_missing_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    error = one_line_error(lambda: load_graph("no_such_defs_module", tmp_path))
    assert str(error) == (
        "cannot import definitions module 'no_such_defs_module': "
        "No module named 'no_such_defs_module'; set 'definitions' in partita.toml"
    )


def test_an_import_error_inside_the_file_is_not_blamed_on_the_settings(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    name = write_defs("import partita as pt\nimport no_such_dependency_xyz\n")
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error) == (
        f"importing definitions {name!r} failed: "
        "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"
    )
    assert isinstance(error.__cause__, ModuleNotFoundError)
    assert name.removesuffix(".py") not in sys.modules  # a failed import leaves nothing behind


def test_an_import_error_inside_a_dotted_module(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs("from no_such_dependency_xyz import thing\n").removesuffix(".py")
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error) == (
        f"importing definitions {name!r} failed: "
        "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"
    )


def test_a_name_error_inside_the_file(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs("from math import no_such_name\n")
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error).startswith(f"importing definitions {name!r} failed: ImportError: ")
    assert isinstance(error.__cause__, ImportError)


def test_a_syntax_error_inside_the_file(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs("def broken(:\n    pass\n")
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error).startswith(f"importing definitions {name!r} failed: SyntaxError: ")
    assert "line 1" in str(error)


def test_an_exception_at_import_time(write_defs: WriteDefs, tmp_path: Path) -> None:
    name = write_defs("raise RuntimeError('no credentials for the sales API')\n")
    error = one_line_error(lambda: load_graph(name, tmp_path))
    assert str(error) == (
        f"importing definitions {name!r} failed: RuntimeError: no credentials for the sales API"
    )


# -- definition errors in a file are raised as they are -----------------------------------


def test_an_unknown_dependency_in_a_file(load_defs: LoadDefs) -> None:
    error = one_line_error(
        lambda: load_defs(PIPELINE.replace("def clean_sales(raw_sales", "def clean_sales(raw_sale"))
    )
    assert str(error) == (
        "asset 'clean_sales' depends on 'raw_sale', which is not defined; did you mean 'raw_sales'?"
    )


def test_a_cycle_in_a_file(load_defs: LoadDefs) -> None:
    source = """
    import partita as pt


    @pt.asset
    def a(b: int) -> int:
        return b


    @pt.asset
    def b(a: int) -> int:
        return a
    """
    assert str(one_line_error(lambda: load_defs(source))) == "dependency cycle: a -> b -> a"


def test_duplicate_keys_in_a_file(load_defs: LoadDefs) -> None:
    source = """
    import partita as pt


    @pt.asset(key="sales")
    def first() -> int:
        return 1


    @pt.asset(key="sales")
    def second() -> int:
        return 2
    """
    error = one_line_error(lambda: load_defs(source))
    assert str(error) == "two assets share the key 'sales'; rename one"


def test_a_bad_asset_key_in_a_file(load_defs: LoadDefs) -> None:
    source = """
    import partita as pt


    @pt.asset(key="Sales-Raw")
    def raw() -> int:
        return 1
    """
    error = one_line_error(lambda: load_defs(source))
    assert str(error).startswith("invalid asset key 'Sales-Raw': use lowercase letters")
    assert error.__cause__ is None  # raised as itself, not wrapped as an import failure


def test_a_window_on_an_unpartitioned_asset_in_a_file(load_defs: LoadDefs) -> None:
    source = """
    import partita as pt


    @pt.asset
    def totals() -> int:
        return 1


    @pt.asset(partitions=pt.DailyPartitions(start="2026-01-01"), deps={"totals": pt.Window(days=7)})
    def weekly(totals: int) -> int:
        return totals
    """
    error = one_line_error(lambda: load_defs(source))
    assert (
        str(error)
        == "weekly <- totals: Window(...) needs time partitions on both sides, not unpartitioned"
    )
