"""The row count a Parquet file declares in its footer, checked against a bound before any row is read.

A Parquet file of a few kilobytes can declare 10^9 rows (run-length encoding stores a repeated value once):
reading it would allocate until memory runs out. Every Parquet file chiptwin reads whole is first checked
here against the most rows a legitimate file of its kind holds.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.errors import ChipTwinError
from chiptwin.files import check_regular_file

__all__ = ["check_parquet_rows"]


def check_parquet_rows(
    path: Path | str,
    kind: str,
    limit: int,
    error: type[ChipTwinError],
    why: str = "",
    unreadable: str = "not a readable Parquet part",
) -> int:
    """The number of rows the Parquet file ``path`` (a ``kind`` of :data:`chiptwin.files.SIZE_LIMITS`)
    declares, after refusing more than ``limit`` (``why``: what the bound comes from; ``unreadable``: what
    a file that is no Parquet is called; both for the messages).

    Raises:
        error: the file is missing, not a regular file, too large, not Parquet, or declares more rows.
    """
    path = Path(path)
    check_regular_file(path, kind, error)
    try:
        rows = int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise error(f"{path}: {unreadable} ({' '.join(str(exc).split())})") from None
    if rows > limit or rows < 0:
        raise error(f"{path}: {kind} declares {rows:,} rows; at most {limit:,}{f' ({why})' if why else ''}")
    return rows
