"""The report of a trace directory: accuracy, energy and tile-map PNGs and a plain-text summary.

Drawn from the files of the trace alone (manifest, Parquet tables, ``mapping.parquet``), so a report can
be made again, or elsewhere, from a finished or interrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chiptwin.errors import DataError
from chiptwin.report.accuracy import plot_accuracy
from chiptwin.report.energy import plot_energy
from chiptwin.report.summary import checkpoint_order, format_summary, read_live_manifest
from chiptwin.report.tile_map import draw_tile_map
from chiptwin.trace.reader import MAPPING_FILE, read_table

__all__ = ["ReportFiles", "write_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiles:
    """The files :func:`write_report` wrote; a plot is ``None`` when the trace had no rows for it."""

    out_dir: Path
    """Folder holding every file below."""

    summary: Path
    accuracy: Path | None
    energy: Path | None
    tile_map: Path | None

    def written(self) -> list[Path]:
        """Every file written, the summary last."""
        plots = [self.accuracy, self.energy, self.tile_map]
        return [p for p in plots if p is not None] + [self.summary]


def write_report(root: Path | str, out_dir: Path | str | None = None) -> ReportFiles:
    """Write the report of the trace directory ``root`` into ``out_dir`` (default ``root/report``).

    Writes ``accuracy.png`` (if there are probes), ``energy.png`` (if there are cells), ``tile_map.png``
    (if the trace has a mapping table) and ``summary.txt`` (always).

    Raises:
        DataError: ``root`` is not a trace directory (no manifest), cannot be read, or holds no probes,
            no cells and no mapping table.
    """
    root = Path(root)
    manifest = read_live_manifest(root)
    probes, cells = read_table(root, "probes"), read_table(root, "cells")
    mapping = root / MAPPING_FILE
    if not probes.num_rows and not cells.num_rows and not mapping.is_file():
        raise DataError(f"{root}: nothing to report (no probes, no cells and no {MAPPING_FILE})")
    out = Path(out_dir) if out_dir is not None else root / "report"
    if mapping.is_file():
        read_table(root, "mapping")  # a corrupt mapping table fails before anything is drawn
    out.mkdir(parents=True, exist_ok=True)
    scenario = manifest.get("scenario") or {}
    title = f"{scenario.get('name', root.name)} on {scenario.get('arch', '?')}"
    digital = manifest.get("digital_accuracy") or {}
    order = checkpoint_order(manifest)
    accuracy = None
    if probes.num_rows:
        accuracy = plot_accuracy(
            probes,
            out / "accuracy.png",
            digital=digital,
            title=title,
            checkpoints=order,
            age_note=str(manifest.get("age_convention") or ""),
        )
    energy = plot_energy(cells, out / "energy.png", checkpoints=order) if cells.num_rows else None
    tile_map = draw_tile_map(mapping, out / "tile_map.png") if mapping.is_file() else None
    summary = out / "summary.txt"
    summary.write_text(format_summary(manifest, probes, cells) + "\n", encoding="utf-8")
    return ReportFiles(out_dir=out, summary=summary, accuracy=accuracy, energy=energy, tile_map=tile_map)
