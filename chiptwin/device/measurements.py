"""Measured device reads: the columns of a measurement file, the record they become, and its checks.

A measurement file (Parquet or CSV, read by ``chiptwin fit-device``) has one row per read of one device:

=====================  ===========================================================================
column                 meaning
=====================  ===========================================================================
``device_id``          the device (an integer or a string); one device has one target
``g_target_usiemens``  the conductance the device was programmed to, µS (> 0)
``t_s``                time of the read after programming, s (>= 0)
``g_usiemens``         the conductance read, µS (>= 0)
``temperature_c``      optional: the chip temperature at the read, °C (one value for the whole file)
=====================  ===========================================================================

:class:`DeviceMeasurements` holds the columns as numpy arrays in file order, so array index ``i`` is
row ``i + 1`` of the file (the first data row is row 1; in a CSV file that is the line after the
header). :func:`check_measurements` refuses a value no device could have read, naming the file, the
row and the column. What a fit needs of the design (how many targets, reads and times) is checked by
the fit itself (:mod:`chiptwin.device.pcm_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chiptwin.errors import DataError
from chiptwin.limits import MAX_AGE_S, MAX_TEMPERATURE_C, MIN_TEMPERATURE_C

__all__ = [
    "DEVICE_ID",
    "G_READ",
    "G_TARGET",
    "MAX_CONDUCTANCE_USIEMENS",
    "MEASUREMENT_COLUMNS",
    "REQUIRED_COLUMNS",
    "TEMPERATURE",
    "TIME",
    "DeviceMeasurements",
    "check_measurements",
    "shown",
]

DEVICE_ID = "device_id"
G_TARGET = "g_target_usiemens"
TIME = "t_s"
G_READ = "g_usiemens"
TEMPERATURE = "temperature_c"

MEASUREMENT_COLUMNS: dict[str, str] = {
    DEVICE_ID: "the device (an integer or a string; one device has one target)",
    G_TARGET: "target conductance the device was programmed to, µS (> 0)",
    TIME: "time of the read after programming, s (>= 0)",
    G_READ: "conductance read, µS (>= 0)",
    TEMPERATURE: "optional: chip temperature at the read, °C (one value for the whole file)",
}
"""Column name -> meaning and unit, in file order (the contract of a measurement file)."""

REQUIRED_COLUMNS = (DEVICE_ID, G_TARGET, TIME, G_READ)
"""Columns every measurement file has (``temperature_c`` is optional)."""

MAX_CONDUCTANCE_USIEMENS = 1e4
"""Largest target or read conductance, µS (10 mS): PCM and ReRAM cells reach ~100-200 µS (Joshi 2020:
25 µS; Falcone 2025: 90 µS); a larger value is a unit mistake (siemens or nanosiemens)."""


@dataclass(frozen=True, slots=True, eq=False)
class DeviceMeasurements:
    """Reads of programmed devices, one entry per read, in file order (array index ``i`` = row ``i + 1``).

    Attributes:
        device: int64 index of each read's device into ``device_ids``.
        device_ids: the devices' identifiers as the file wrote them (for messages), in first-seen order.
        g_target_usiemens: float64 target conductance, µS.
        t_s: float64 time of the read after programming, s.
        g_usiemens: float64 conductance read, µS.
        temperature_c: float64 chip temperature at each read, °C, or ``None`` when the file has none.
        source: where the reads came from (a file path), first in every message.
    """

    device: np.ndarray
    device_ids: np.ndarray
    g_target_usiemens: np.ndarray
    t_s: np.ndarray
    g_usiemens: np.ndarray
    temperature_c: np.ndarray | None
    source: str

    @property
    def rows(self) -> int:
        """Number of reads."""
        return int(self.g_usiemens.size)

    @property
    def devices(self) -> int:
        """Number of devices."""
        return int(self.device_ids.size)


def shown(value: object) -> str:
    """``repr`` of a value for a message, a numpy scalar as the Python number or string it holds.

    >>> shown(np.int64(7)), shown(np.str_("d7")), shown(np.float64("nan"))
    ('7', "'d7'", 'nan')
    """
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_bad(bad: np.ndarray) -> int | None:
    where = np.flatnonzero(bad)
    return int(where[0]) if where.size else None


def _check_range(
    m: DeviceMeasurements, values: np.ndarray, column: str, low: float, high: float, requirement: str
) -> None:
    """Refuse the first value of ``column`` that is NaN, infinite or outside ``[low, high]``."""
    row = _first_bad(~((values >= low) & (values <= high)))
    if row is not None:
        raise DataError(f"{m.source}: row {row + 1}: {column}(={shown(values[row])}) must be {requirement}")


def check_measurements(m: DeviceMeasurements) -> None:
    """Check that every read is one a device could have given, and that each device has one target.

    Raises:
        DataError: no rows; a NaN, infinite, negative or unit-mistaken value (target <= 0 or above
            :data:`MAX_CONDUCTANCE_USIEMENS`, a read below 0, a time below 0 or beyond 100 years, a
            temperature outside the chip's range, :data:`chiptwin.limits.MIN_TEMPERATURE_C` to
            :data:`~chiptwin.limits.MAX_TEMPERATURE_C`); a device with two targets; two temperatures.
            The message names the file, the row and the column.
    """
    n = m.rows
    if n == 0:
        raise DataError(f"{m.source}: no reads (the measurement file has a header and no rows)")
    arrays = [m.device, m.g_target_usiemens, m.t_s, m.g_usiemens]
    if m.temperature_c is not None:
        arrays.append(m.temperature_c)
    if any(a.shape != (n,) for a in arrays):
        raise DataError(f"{m.source}: columns of unequal length {[a.shape for a in arrays]}")
    g_max = MAX_CONDUCTANCE_USIEMENS
    row = _first_bad(~(m.g_target_usiemens > 0) | ~(m.g_target_usiemens <= g_max))
    if row is not None:
        value = m.g_target_usiemens[row]
        raise DataError(
            f"{m.source}: row {row + 1}: {G_TARGET}(={shown(value)}) must be a number in (0, {g_max:g}] µS"
        )
    _check_range(m, m.t_s, TIME, 0.0, MAX_AGE_S, "a number in [0, 100 y] s (chiptwin.limits.MAX_AGE_S)")
    _check_range(m, m.g_usiemens, G_READ, 0.0, g_max, f"a number in [0, {g_max:g}] µS")
    if m.temperature_c is not None:
        low, high = MIN_TEMPERATURE_C, MAX_TEMPERATURE_C
        _check_range(m, m.temperature_c, TEMPERATURE, low, high, f"a number in [{low:g}, {high:g}] °C")
        row = _first_bad(m.temperature_c != m.temperature_c[0])
        if row is not None:
            raise DataError(
                f"{m.source}: row {row + 1}: {TEMPERATURE}(={shown(m.temperature_c[row])}) differs from "
                f"row 1 (={shown(m.temperature_c[0])}); fit the reads of one temperature at a time"
            )
    # The first target of each device (np.unique's first index), then any read that disagrees with it.
    _, first = np.unique(m.device, return_index=True)
    target_of = np.empty(m.devices, dtype=np.float64)
    target_of[m.device[first]] = m.g_target_usiemens[first]
    row = _first_bad(m.g_target_usiemens != target_of[m.device])
    if row is not None:
        device = m.device_ids[m.device[row]]
        raise DataError(
            f"{m.source}: row {row + 1}: {G_TARGET}(={shown(m.g_target_usiemens[row])}) differs from the "
            f"target {shown(target_of[m.device[row]])} of device {shown(device)} in an earlier row; a "
            "device has one target"
        )
