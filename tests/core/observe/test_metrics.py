"""Metrics: the Prometheus text of a project after known runs, and the per-partition and
per-run numbers."""

from __future__ import annotations

import datetime as dt
import math
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import partita as pt
from partita.core.observe.metrics import (
    escape_label,
    partition_metrics,
    prometheus_text,
    run_metrics,
)
from partita.errors import DefinitionError

NOW = dt.datetime(2026, 4, 4, tzinfo=dt.UTC)

SOURCE = """\
from pathlib import Path

import pyarrow as pa

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
BROKEN = Path(__file__).parent / "broken"


@pt.asset(partitions=daily)
def raw(ctx: pt.Context) -> pa.Table:
    return pa.table({"n": list(range(int(ctx.partition_key[-1])))})


@pt.asset(partitions=daily)
def clean(raw: pa.Table) -> pa.Table:
    if BROKEN.exists():
        raise RuntimeError("broken")
    return raw
"""

# One sample line of the text format 0.0.4: name, optional labels, a float value.
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{{(?:{_LABEL})(?:,{_LABEL})*\}})? "
    r"(NaN|[+-]Inf|-?[0-9.]+(?:e[+-]?[0-9]+)?)$"
)
_META = re.compile(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[pt.Project]:
    root = tmp_path / "metrics"
    root.mkdir()
    (root / "partita.toml").write_text('definitions = "assets.py"\n')
    (root / "assets.py").write_text(textwrap.dedent(SOURCE))
    with pt.Project(root, clock=lambda: NOW, sleep=lambda _: None) as opened:
        yield opened


def parse(text: str) -> dict[str, float]:
    """Every sample as ``name{labels}`` -> value; fails on any malformed line."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            meta = _META.match(line)
            assert meta, line
            if meta.group(1) == "TYPE":
                assert meta.group(3) in ("counter", "gauge", "summary", "histogram")
                typed.add(meta.group(2))
            continue
        sample = _SAMPLE.match(line)
        assert sample, f"malformed sample line: {line!r}"
        family = re.sub(r"_(sum|count)$", "", sample.group(1))
        assert family in typed or sample.group(1) in typed, line
        samples[sample.group(1) + (sample.group(2) or "")] = float(sample.group(3))
    return samples


def test_prometheus_text_after_known_runs(project: pt.Project) -> None:
    assert project.backfill("clean", "2026-04-01", "2026-04-03").ok  # 3 raw + 3 clean
    (project.root / "broken").touch()
    assert not project.materialize("clean", "2026-04-02", force=True).ok
    samples = parse(prometheus_text(project))
    assert samples['partita_runs_total{status="succeeded"}'] == 1
    assert samples['partita_runs_total{status="failed"}'] == 1
    assert samples['partita_steps_total{asset="raw",status="succeeded"}'] == 3
    assert samples['partita_steps_total{asset="clean",status="succeeded"}'] == 3
    assert samples['partita_steps_total{asset="clean",status="failed"}'] == 1
    assert samples['partita_partitions{asset="clean",status="fresh"}'] == 3
    assert samples['partita_partitions{asset="clean",status="failed"}'] == 1
    assert samples['partita_partitions{asset="raw",status="missing"}'] == 0
    assert samples['partita_partition_rows{asset="raw"}'] == 1 + 2 + 3
    sizes = project.catalog.versions("raw", ["2026-04-01", "2026-04-02", "2026-04-03"])
    assert samples['partita_partition_bytes{asset="raw"}'] == sum(v.bytes for v in sizes.values())
    assert samples['partita_step_duration_seconds_count{asset="clean"}'] == 4
    run = project.run("last")
    steps = [s for r in project.runs() for s in project.run(r.run_id).steps]
    total = sum(s.duration or 0 for s in steps if s.asset == "clean")
    assert samples['partita_step_duration_seconds_sum{asset="clean"}'] == pytest.approx(total)
    median = samples['partita_step_duration_seconds{asset="clean",quantile="0.5"}']
    assert 0 <= median <= samples['partita_step_duration_seconds{asset="clean",quantile="0.99"}']
    assert run.status == "failed"


def test_an_empty_catalog_is_valid_text(project: pt.Project) -> None:
    samples = parse(prometheus_text(project))
    assert samples['partita_partitions{asset="raw",status="missing"}'] == 3
    assert not any(name.startswith("partita_runs_total") for name in samples)


def test_label_values_are_escaped() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    value = escape_label('q"\n')
    line = f'x{{k="{value}"}} 1'
    assert _SAMPLE.match(line)


def test_partition_metrics(project: pt.Project) -> None:
    result = project.backfill("raw", "2026-04-01", "2026-04-03")
    found = partition_metrics(project, "raw", limit=2)
    assert [m.partition for m in found] == ["2026-04-03", "2026-04-02"]
    assert [m.rows for m in found] == [3, 2]
    steps = {s.partition: s for s in project.run(result.run_id).steps}
    for metric in found:
        assert metric.run_id == result.run_id
        assert metric.duration == pytest.approx(steps[metric.partition].duration)
        assert metric.bytes == steps[metric.partition].bytes
        assert not math.isnan(metric.built_at)
    assert len(partition_metrics(project, "raw", limit=None)) == 3
    (one,) = partition_metrics(project, "raw", None, ["2026-04-01"])
    assert (one.partition, one.rows) == ("2026-04-01", 1)
    with pytest.raises(DefinitionError):
        partition_metrics(project, "nope", limit=1)


def test_run_metrics(project: pt.Project) -> None:
    first = project.backfill("raw", "2026-04-01", "2026-04-02")
    (project.root / "broken").touch()
    second = project.materialize("clean", "2026-04-03")
    found = run_metrics(project, limit=5)
    assert [r.run_id for r in found] == [second.run_id, first.run_id]
    assert found[1].steps == {"succeeded": 2} and found[1].rows == 1 + 2
    assert found[0].status == "failed"
    assert found[0].steps == {"succeeded": 1, "failed": 1} and found[0].rows == 3
    assert found[0].duration is not None and found[0].duration >= 0
    assert len(run_metrics(project, limit=1)) == 1
