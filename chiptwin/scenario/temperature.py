"""A scenario's temperature as the device layer takes it: a replayed series read and checked, a history built.

:func:`temperature_history` turns a :class:`~chiptwin.spec.temperature.TemperatureSpec` into the
:class:`~chiptwin.device.temperature.TemperatureHistory` the cells age their chips with, reading a
``series`` file (Parquet, columns ``time_s`` and ``temperature_c``) with every check a user's file needs:
one line naming the file, the column and the row (counted from 1). :func:`check_temperature` says
whether a chip's device model can run at that temperature at all (before anything is written).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chiptwin.device.temperature import TemperatureHistory, has_temperature_law
from chiptwin.errors import SpecError
from chiptwin.files import check_regular_file
from chiptwin.limits import MAX_AGE_S, MAX_TEMPERATURE_C, MAX_TEMPERATURE_POINTS, MIN_TEMPERATURE_C
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.spec.temperature import TemperatureSpec

__all__ = ["SERIES_COLUMNS", "check_temperature", "read_temperature_series", "temperature_history"]

SERIES_COLUMNS = ("time_s", "temperature_c")
"""Columns of a replayed temperature series (others are ignored)."""


def _first_bad(values: np.ndarray, bad: np.ndarray) -> tuple[int, float]:
    """The first row (counted from 1, as every chiptwin error counts rows) where ``bad``, and its value."""
    i = int(np.flatnonzero(bad)[0])
    return i + 1, float(values[i])


def read_temperature_series(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """``(time_s, temperature_c)`` of a Parquet temperature log, float64, checked.

    Raises:
        SpecError: a missing or unreadable file, a missing column, too many rows, a null or NaN value, a time
            that is negative, not after the previous one or beyond 100 y, a first time other than 0 s, or a
            temperature out of range; each names the file, the column and the row.
    """
    path = Path(path)
    check_regular_file(path, "temperature file", SpecError)
    try:
        rows = pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise SpecError(f"{path}: cannot read Parquet temperature file ({exc})") from None
    if rows > MAX_TEMPERATURE_POINTS:
        raise SpecError(
            f"{path}: {rows:,} rows; a temperature series holds at most {MAX_TEMPERATURE_POINTS:,}"
        )
    if rows == 0:
        raise SpecError(f"{path}: no rows; a temperature series needs one at time_s 0")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in SERIES_COLUMNS if c not in names]
        if missing:
            raise SpecError(
                f"{path}: no column {missing[0]!r} (columns: {', '.join(names)}; "
                f"need {', '.join(SERIES_COLUMNS)})"
            )
        table = pq.read_table(path, columns=list(SERIES_COLUMNS))
    except (OSError, pa.ArrowException) as exc:
        raise SpecError(f"{path}: cannot read Parquet temperature file ({exc})") from None
    columns = []
    for name in SERIES_COLUMNS:
        column = table.column(name)
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise SpecError(f"{path}: column {name!r} is {column.type}, must hold numbers")
        if column.null_count:
            row = int(np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))[0]) + 1
            raise SpecError(f"{path}: column {name!r} row {row} is empty (null)")
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        if not bool(np.isfinite(values).all()):
            row, value = _first_bad(values, ~np.isfinite(values))
            raise SpecError(f"{path}: column {name!r} row {row} is {value!r}, must be a finite number")
        columns.append(values)
    times, celsius = columns
    if times[0] != 0:
        raise SpecError(
            f"{path}: column 'time_s' row 1 is {float(times[0])!r}, must be 0 (the run starts at 0 s)"
        )
    bad = np.diff(times) <= 0
    if bool(bad.any()):
        i = int(np.flatnonzero(bad)[0]) + 1
        raise SpecError(
            f"{path}: column 'time_s' row {i + 1} is {float(times[i])!r}, must be after row {i} "
            f"({float(times[i - 1])!r})"
        )
    if times[-1] > MAX_AGE_S:
        raise SpecError(
            f"{path}: column 'time_s' row {rows} is {float(times[-1])!r}, must be <= {MAX_AGE_S:.4g} s"
        )
    out = (celsius < MIN_TEMPERATURE_C) | (celsius > MAX_TEMPERATURE_C)
    if bool(out.any()):
        row, value = _first_bad(celsius, out)
        raise SpecError(
            f"{path}: column 'temperature_c' row {row} is {value!r}, must be in "
            f"[{MIN_TEMPERATURE_C:g}, {MAX_TEMPERATURE_C:g}] °C (chiptwin.limits)"
        )
    return times, celsius


def temperature_history(spec: TemperatureSpec) -> TemperatureHistory:
    """The piecewise-constant history of ``spec`` (a ``series`` is read from its file).

    Raises:
        SpecError: a bad series file (:func:`read_temperature_series`).
    """
    if spec.kind == "series":
        assert spec.file is not None
        times, celsius = read_temperature_series(spec.file)
        return TemperatureHistory(starts_s=times, celsius=celsius)
    starts, values, period = spec.values()
    return TemperatureHistory(
        starts_s=np.array(starts, dtype=np.float64),
        celsius=np.array(values, dtype=np.float64),
        period_s=period,
    )


def _at_reference(history: TemperatureHistory, chip: ChipSpec) -> bool:
    reference = getattr(chip.device, "drift_temperature_ref_c", math.nan)
    return bool(np.all(history.celsius == reference))


def check_temperature(
    spec: TemperatureSpec | None, chip: ChipSpec, faults: FaultSpec, repairs: bool, where: str
) -> TemperatureHistory | None:
    """The history the cells age ``chip`` with (None: no temperature, the published law as it is).

    A temperature other than the device model's reference needs a model with a temperature law
    (:func:`chiptwin.device.temperature.has_temperature_law`), and is refused next to what has no
    temperature law: devices failing over time (``faults.stuck_arrival_per_day``) and a repaired tile
    (``tile_failure.recover_after_s``), whose younger devices would need a relaxation clock of their own.

    Raises:
        SpecError: any of those, or a bad series file; ``where`` (the architecture file) leads the message.
    """
    if spec is None:
        return None
    history = temperature_history(spec)
    if _at_reference(history, chip):
        return history
    if not has_temperature_law(chip.device):
        raise SpecError(
            f"{where}: device model {chip.device_model!r} has no temperature law in chiptwin; leave out "
            "[temperature] (the model's published, room-temperature law) or use a PCM chip"
        )
    if faults.stuck_arrival_per_day > 0:
        raise SpecError(
            f"faults.stuck_arrival_per_day(={faults.stuck_arrival_per_day!r}) with a [temperature] other "
            "than the device model's reference: device failures have no temperature law; give one or the "
            "other"
        )
    if repairs:
        raise SpecError(
            "tile_failure.recover_after_s with a [temperature] other than the reference: a repaired tile's "
            "devices would need a relaxation clock of their own, which chiptwin does not keep"
        )
    return history
