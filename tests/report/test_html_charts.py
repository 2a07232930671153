"""The interactive charts read as well as the PNGs: a panel per checkpoint, one colour per policy in
every chart, ages ticked in human units, energies in one unit on the axis and in the hover, a tile map
per checkpoint on a colour scale fitted to the data."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
from test_report import _cell, _mapping_record, _probes

from chiptwin.report.colours import POLICY_COLOURS, age_ticks, policy_colours
from chiptwin.report.html_charts import accuracy_figure, energy_figure, tile_map_figure
from chiptwin.trace.schema import CELLS_SCHEMA, PROBES_SCHEMA


def test_accuracy_has_a_panel_per_checkpoint_and_a_colour_per_policy() -> None:
    probes = pa.Table.from_pylist(_probes(), schema=PROBES_SCHEMA)
    fig = accuracy_figure(probes, checkpoints=["zeta", "alpha"], digital={"zeta": 0.935, "alpha": 0.94})
    # Two stacked panels titled by checkpoint, four policy lines in each.
    titles = [a.text for a in fig.layout.annotations if a.text in ("zeta", "alpha")]
    assert titles == ["zeta", "alpha"]
    assert [(t.xaxis, t.yaxis) for t in fig.data].count(("x", "y")) == 4
    assert [(t.xaxis, t.yaxis) for t in fig.data].count(("x2", "y2")) == 4
    # A policy's lines share its colour and one legend entry (legend names are the policies alone).
    for policy in ("none", "gdc", "gdc+adabs", "custom"):
        lines = [t for t in fig.data if t.name == policy]
        assert len(lines) == 2 and {t.line.color for t in lines} == {
            policy_colours(["none", "gdc", "gdc+adabs", "custom"])[policy]
        }
        assert [t.showlegend for t in lines] == [True, False]
    assert fig.data[0].line.color == POLICY_COLOURS["none"] == "#d62728"
    # Human age ticks from the 1 ms floor (an age-0 probe) past 1 day; each digital line in its panel.
    assert list(fig.layout.xaxis2.ticktext) == [
        "0.001 s", "0.01 s", "0.1 s", "1 s", "10 s", "1 min", "10 min", "1 h", "10 h", "1 d",
    ]  # fmt: skip
    assert fig.layout.xaxis2.title.text == "device age since programming (log scale)"
    digital = [a.text for a in fig.layout.annotations if a.text.startswith("digital")]
    assert digital == ["digital 93.50 %", "digital 94.00 %"]


def test_age_ticks_cover_the_range_in_human_units() -> None:
    assert age_ticks(60.0, 86_400.0)[1] == ["1 min", "10 min", "1 h", "10 h", "1 d"]
    assert age_ticks(20.0, 3.2e7)[1][-2:] == ["1 y", "10 y"]


def test_energy_axis_and_hover_share_one_unit() -> None:
    rows = [_cell(c, p, 0) for c in ("zeta",) for p in ("none", "gdc")]
    fig = energy_figure(pa.Table.from_pylist(rows, schema=CELLS_SCHEMA))
    unit = fig.layout.yaxis.title.text.removeprefix("energy per inference (").removesuffix(")")
    assert unit == "µJ"  # 2.1 µJ dynamic + 200 nJ compensation per inference
    array = next(t for t in fig.data if t.name == "array")
    assert list(array.y) == [1.0, 1.0] and list(array.text) == ["1 µJ", "1 µJ"]
    compensation = next(t for t in fig.data if t.name == "compensation")
    assert list(compensation.text) == ["0.2 µJ", "0.2 µJ"]  # not "200 nJ" next to a µJ axis


def test_tile_map_per_checkpoint_on_a_fitted_scale() -> None:
    # Two checkpoints on one 2 x 2 chip; the most-used tile holds 36 x 16 of 64 x 32 cells (28.1 %).
    zeta = _mapping_record()
    alpha = dataclasses.replace(zeta, model="alpha", tile=3, mesh_row=1, mesh_col=1, row_stop=18)
    fig = tile_map_figure([zeta, alpha])
    assert len(fig.data) == 2
    assert [a.text for a in fig.layout.annotations] == [
        "m: 1/4 tiles used",
        "alpha: 1/4 tiles used",
    ]
    assert fig.data[0].z[0][0] == 100 * 36 * 16 / (64 * 32) and fig.data[1].z[1][1] == 100 * 18 * 16 / (
        64 * 32
    )
    # The colour scale runs to 50 % (the 1-2-5 step above 28.1 %), with a switch to 0-100 %.
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 50)
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["scale 0-50 % (fitted)", "scale 0-100 %"]
    assert buttons[1].args == ({"coloraxis.cmax": 100},)
