"""Two-dimensional bin packing of weight blocks into crossbars (MaxRects, best short side fit).

Each crossbar is a bin of ``bin_rows x bin_cols`` weight cells; a block is a rectangle that is never
rotated (its rows are crossbar rows). The packer keeps, per bin, the list of maximal free rectangles
(Jylänki, "A thousand ways to pack the bin", 2010, MaxRects-BSSF): a block goes where the shorter
leftover side is smallest, over all open bins, and a new bin opens only when no free rectangle holds it.
Blocks are packed tallest first (then widest), so rectangles never overlap and a bin opens at most once
per block: packing never needs more bins than one block per bin.

A bin may also have a *load* capacity (``loads`` and ``max_load``): a block carries a load (the MVMs per
image its crossbar runs, for the ``search`` strategy) and a bin takes a block only while the loads it holds
stay within ``max_load``; the crossbar's time is the second dimension of the bin.
"""

from __future__ import annotations

from collections.abc import Sequence

from chiptwin.errors import MappingError

__all__ = ["pack_rectangles"]

_Rect = tuple[int, int, int, int]  # row, col, height (rows), width (cols)


def _split(free: _Rect, used: _Rect) -> list[_Rect]:
    fr, fc, fh, fw = free
    ur, uc, uh, uw = used
    if ur >= fr + fh or ur + uh <= fr or uc >= fc + fw or uc + uw <= fc:
        return [free]
    parts = []
    if ur > fr:
        parts.append((fr, fc, ur - fr, fw))
    if ur + uh < fr + fh:
        parts.append((ur + uh, fc, fr + fh - ur - uh, fw))
    if uc > fc:
        parts.append((fr, fc, fh, uc - fc))
    if uc + uw < fc + fw:
        parts.append((fr, uc + uw, fh, fc + fw - uc - uw))
    return parts


def _contains(a: _Rect, b: _Rect) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[0] + a[2] >= b[0] + b[2] and a[1] + a[3] >= b[1] + b[3]


def _prune(rects: list[_Rect]) -> list[_Rect]:
    rects = list(dict.fromkeys(rects))
    return [
        r for i, r in enumerate(rects) if not any(j != i and _contains(o, r) for j, o in enumerate(rects))
    ]


def pack_rectangles(
    sizes: Sequence[tuple[int, int]],
    bin_rows: int,
    bin_cols: int,
    *,
    max_bins: int | None = None,
    loads: Sequence[int] | None = None,
    max_load: int | None = None,
) -> list[tuple[int, int, int]] | None:
    """Pack rectangles of ``(rows, cols)`` into as few ``bin_rows x bin_cols`` bins as the heuristic finds.

    With ``loads`` (one per rectangle) and ``max_load``, a bin holds rectangles whose loads sum to at most
    ``max_load``; rectangles are then packed largest load first (then tallest, widest).

    Returns:
        ``(bin, row, col)`` for each rectangle, in the order of ``sizes``; bins are numbered 0, 1, ...
        in the order they were opened. None when more than ``max_bins`` bins would be needed.

    Raises:
        MappingError: a rectangle is empty or larger than a bin.
    """
    for rows, cols in sizes:
        if not (1 <= rows <= bin_rows and 1 <= cols <= bin_cols):
            raise MappingError(
                f"block of {rows}x{cols} weights does not fit a {bin_rows}x{bin_cols} crossbar"
            )
    load = list(loads) if loads is not None else [0] * len(sizes)
    cap = max_load if max_load is not None else 0
    if len(load) != len(sizes) or (loads is not None and (max_load is None or max(load, default=0) > cap)):
        raise MappingError(
            f"loads(={len(load)} values, largest {max(load, default=0)}) must match the {len(sizes)} "
            f"rectangles and stay within max_load(={max_load})"
        )
    order = sorted(range(len(sizes)), key=lambda i: (-load[i], -sizes[i][0], -sizes[i][1], i))
    held: list[int] = []  # per bin: load held
    bins: list[list[_Rect]] = []
    largest: list[tuple[int, int]] = []  # per bin: tallest and widest free rectangle, to skip full bins
    where: dict[int, tuple[int, int, int]] = {}
    for i in order:
        h, w = sizes[i]
        best: tuple[int, int, int, _Rect] | None = None  # short leftover, long leftover, bin, free rect
        for b, free in enumerate(bins):
            if largest[b][0] < h or largest[b][1] < w or held[b] + load[i] > cap:
                continue
            for rect in free:
                if rect[2] >= h and rect[3] >= w:
                    short, long = sorted((rect[2] - h, rect[3] - w))
                    if best is None or (short, long, b) < best[:3]:
                        best = (short, long, b, rect)
        if best is None:
            if max_bins is not None and len(bins) == max_bins:
                return None
            bins.append([(0, 0, bin_rows, bin_cols)])
            largest.append((bin_rows, bin_cols))
            held.append(0)
            best = (0, 0, len(bins) - 1, bins[-1][0])
        b, rect = best[2], best[3]
        used = (rect[0], rect[1], h, w)
        bins[b] = _prune([part for free in bins[b] for part in _split(free, used)])
        largest[b] = (max((r[2] for r in bins[b]), default=0), max((r[3] for r in bins[b]), default=0))
        held[b] += load[i]
        where[i] = (b, rect[0], rect[1])
    return [where[i] for i in range(len(sizes))]
