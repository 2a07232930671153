"""``chiptwin report --html``: one self-contained page, checked as text and rendered in headless Chromium.

The trace is the synthetic one of ``test_report`` (two checkpoints, four policies, two seeds, a mapping
table); the sweep directory is written here with the sweep results schema. The browser tests load the
page with every network request refused, wait for the charts to draw, and require a clean console.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import chromium_or_skip, render
from test_report import _write_trace

from chiptwin.cli import main
from chiptwin.report.html import HTML_FILE, write_html_report
from chiptwin.report.html_charts import pareto_front
from chiptwin.report.sweep_table import TIMING_ONLY_NOTE
from chiptwin.sweep.run import results_schema

TRACE_CHARTS = ("accuracy", "energy", "tile map", "latency")
SWEEP_CHARTS = ("results", "pareto")


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="chiptwin-chart" data-chart="([^"]+)">', page)


def _js(text: str) -> str:
    """``text`` as it appears inside the page's chart data (JSON, ASCII, ``<>/`` escaped by Plotly)."""
    escaped = json.dumps(text)[1:-1]
    return escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("/", "\\u002f")


def _write_sweep(root: Path, *, accuracy: bool = True) -> Path:
    """A sweep directory: sweep.json and a results part per cell (ADC bits x strategy, accuracy, energy);
    ``accuracy=False``: a timing-only sweep (no accuracy, no age)."""
    keys = ["adc.bits", "strategy"]
    root.mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"name": "synthetic", "cells": 4}))
    (root / "results").mkdir()
    for n, (bits, strategy) in enumerate([("6", "dense"), ("8", "dense"), ("6", "packed"), ("8", "packed")]):
        row = {
            "sweep_cell": f"c{n}", "adc_bits": bits, "strategy": strategy, "time_ns": 86_400 * 10**9,
            "age_s": 86_400.0 if accuracy else None, "accuracy": 0.80 + 0.04 * n if accuracy else None,
            "n_images": 100, "tiles_used": 4 + n,
            "latency_single_ns": 10_000 + n, "latency_mean_ns": 11_000.0, "throughput_per_s": 100.0,
            "peak_throughput_per_s": 1e5, "energy_per_inference_pj": 1e6, "dynamic_energy_pj": 1e5 * (1 + n),
            "compensation_energy_pj": 0.0, "programming_energy_pj": 1e9,
        }  # fmt: skip
        table = pa.Table.from_pylist([row], schema=results_schema(keys))
        pq.write_table(table, root / "results" / f"c{n}.parquet")
    return root


def test_trace_page_is_self_contained_with_every_chart(tmp_path: Path) -> None:
    page_path = write_html_report(_write_trace(tmp_path / "trace"), tmp_path / "out")
    page = page_path.read_text(encoding="utf-8")
    assert page_path.name == HTML_FILE and _sections(page) == list(TRACE_CHARTS)
    assert "<h1>chiptwin: synthetic on tiny_4</h1>" in page and "<h2>Accuracy vs device age</h2>" in page
    # Nothing is fetched at view time: no script or stylesheet from elsewhere; plotly.js is inline.
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert "Plotly.newPlot" in page and len(page) > 3_000_000
    # Hover carries every seed: zeta under none at 1 h reads 90 % and 92 %.
    assert _js("age 1 h<br>91.00 ± 1.00 %<br>seed 0: 90.00, seed 1: 92.00") in page
    # The tile map's hover: 36 x 16 cells of a 64 x 32 crossbar used, 16 MVMs per image.
    assert _js("tile 0 (row 0, column 0)<br>layers: conv<br>blocks: 1<br>utilisation: 28.1 %") in page
    assert _js("MVMs per image: 16") in page and _js("tile 3: unused") in page


def test_sweep_page_has_table_and_pareto(tmp_path: Path) -> None:
    page = write_html_report(_write_sweep(tmp_path / "sweep"), tmp_path / "out").read_text(encoding="utf-8")
    assert _sections(page) == list(SWEEP_CHARTS)
    assert _js("adc_bits=8, strategy=packed") in page and "<h2>Accuracy vs dynamic energy" in page
    # A timing-only sweep has no accuracy: its Pareto view is latency against energy.
    timing = write_html_report(_write_sweep(tmp_path / "timing", accuracy=False), tmp_path / "t")
    page = timing.read_text(encoding="utf-8")
    assert _sections(page) == list(SWEEP_CHARTS)
    assert '"accuracy %"' not in page  # no empty accuracy column in its table
    # The figure itself says the front ranks no accuracy (a 4-bit ADC "wins" only because of that).
    pareto = page.split('data-chart="pareto"')[1]
    assert pareto.startswith("><h2>Single-inference latency vs dynamic energy per image</h2>")
    assert f'<p class="note">{TIMING_ONLY_NOTE}</p>' in pareto


def test_pareto_front_hand_case() -> None:
    # (cost, value): (2, 70) is beaten by (1, 80); (3, 85) by (2, 90); ties in cost keep the better.
    assert pareto_front([(1.0, 80.0), (2.0, 90.0), (3.0, 85.0), (2.0, 70.0), (4.0, 95.0)]) == [0, 1, 4]
    assert pareto_front([]) == []


@pytest.mark.slow  # a report with its PNGs and the page: ~4 s
def test_cli_html_adds_to_the_png_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _write_trace(tmp_path / "trace")
    assert main(["report", str(root), "--html"]) == 0
    out = capsys.readouterr().out
    for name in ("accuracy.png", "energy.png", "tile_map.png", "summary.txt", HTML_FILE):
        assert f"wrote {root / 'report' / name}" in out
    assert main(["report", str(root), "--out", str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / HTML_FILE).exists()


def test_cli_sweep_needs_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _write_sweep(tmp_path / "sweep")
    assert main(["report", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a sweep directory; add --html" in err and str(root) in err
    assert main(["report", str(root), "--html"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {root / 'report' / HTML_FILE}"


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "charts"), [("trace", TRACE_CHARTS), ("sweep", SWEEP_CHARTS)])
def test_page_renders_in_headless_chromium(kind: str, charts: tuple[str, ...], tmp_path: Path) -> None:
    exe = chromium_or_skip()
    root = _write_trace(tmp_path / kind) if kind == "trace" else _write_sweep(tmp_path / kind)
    page = write_html_report(root, tmp_path / "out")
    shot = tmp_path / f"{kind}.png"
    seen = render(exe, page, len(charts), shot)
    assert seen.console_errors == [] and seen.page_errors == [] and seen.refused == []
    assert seen.charts == len(charts)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


@pytest.mark.slow  # two renders of the page in headless Chromium: ~10 s
@pytest.mark.parametrize("width", [420, 1200])
def test_what_a_reader_sees_at_phone_and_desktop_width(width: int, tmp_path: Path) -> None:
    exe = chromium_or_skip()
    page = write_html_report(_write_trace(tmp_path / "trace"), tmp_path / "out")
    shot = tmp_path / f"trace-{width}.png"
    seen = render(exe, page, len(TRACE_CHARTS), shot, width=width)
    assert seen.console_errors == [] and seen.page_errors == [] and seen.refused == []
    assert seen.charts == len(TRACE_CHARTS) and seen.widest_px <= width
    # Every legend name is whole and on screen: the four policies once (shared by both panels), the
    # energy components, the latency bars.
    names = [name for name, _, _ in seen.legends]
    assert names[:4] == ["none", "gdc", "gdc+adabs", "custom"]
    assert {"array", "adc", "static"} <= set(names)
    assert all(left >= 0 and right <= width for _, left, right in seen.legends), seen.legends
    # Axis titles carry their units; the accuracy chart has a panel per checkpoint (one age axis title,
    # two accuracy axis titles).
    titles = [t for t, _, _ in seen.axis_titles]
    assert titles.count("test accuracy (%)") == 2 and "device age since programming (log scale)" in titles
    assert any(t.startswith("energy per inference (") and t.endswith("J)") for t in titles)
    assert "latency (µs)" in titles and "mesh column" in titles
    assert all(left >= 0 and right <= width for _, left, right in seen.axis_titles + seen.chart_titles)
    print(f"screenshot: {shot}")


@pytest.mark.slow  # two pages in headless Chromium: ~10 s
@pytest.mark.parametrize("kind", ["sweep", "compare"])
def test_sweep_and_comparison_pages_read_at_phone_width(kind: str, tmp_path: Path) -> None:
    from test_compare import _run_b

    from chiptwin.report.compare import COMPARE_HTML, load_runs, write_comparison

    exe = chromium_or_skip()
    if kind == "sweep":
        page, charts = write_html_report(_write_sweep(tmp_path / "s"), tmp_path / "out"), 2
    else:
        a = _write_trace(tmp_path / "a")
        write_comparison(load_runs([a, _run_b(a, tmp_path / "b")]), tmp_path / "out", html=True)
        page, charts = tmp_path / "out" / COMPARE_HTML, 2
    seen = render(exe, page, charts, tmp_path / f"{kind}.png", width=420)
    assert seen.console_errors == [] and seen.page_errors == [] and seen.refused == []
    assert seen.charts == charts and seen.widest_px <= 420
    boxes = seen.legends + seen.axis_titles + seen.chart_titles
    assert all(left >= 0 and right <= 420 for _, left, right in boxes), boxes
    titles = {t for t, _, _ in seen.axis_titles}
    if kind == "sweep":
        assert {"dynamic energy per image (nJ)", "accuracy at the probe (%)"} <= titles
    else:
        assert {"test accuracy (%)", "dynamic energy per inference (µJ)"} <= titles
        assert [n for n, _, _ in seen.legends][:2] == ["A · none", "A · gdc"]
