"""Every string a user wrote is plain text in a chiptwin figure: a ``$`` in a name is a dollar sign.

matplotlib reads text between two ``$`` as mathtext (TeX-like math), so a scenario name such as
``$\\undefinedcommand$`` from a hand-edited manifest ended a report in a 56-line ``ValueError``
traceback. Every function that draws a figure is decorated with :func:`plain_text` (every text made
while it runs is drawn as written: titles, legends, annotations and tick labels alike) and saves it with
:func:`save_figure`, which gives math back to the tick labels matplotlib's own formatters write in
mathtext (``$\\mathdefault{10^{3}}$`` on a log axis) and to nothing else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib.figure import Figure

__all__ = ["plain_text", "save_figure"]

P = ParamSpec("P")
R = TypeVar("R")

_FORMATTER_MATH = re.compile(r"\$\\mathdefault\{[0-9.\-−+^{}\s\\times]*\}\$")
"""A tick label matplotlib's number formatters write (``$\\mathdefault{2\\times10^{-1}}$``): digits,
signs, powers and ``\\times`` only, so no user string of another shape is drawn as math."""


def plain_text(draw: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function that draws a figure: it runs with matplotlib's ``text.parse_math`` off.

    >>> @plain_text
    ... def parse_math() -> bool:
    ...     return bool(mpl.rcParams["text.parse_math"])
    >>> parse_math()
    False
    """

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return drawn


def save_figure(fig: Figure, out: Path | str) -> Path:
    """Save ``fig``, drawn by a :func:`plain_text` function, as PNG at ``out``; returns the path. The
    tick labels of matplotlib's number formatters (and only those) are drawn as math.

    >>> import tempfile
    >>> draw = plain_text(lambda: Figure().add_subplot().set_title(r"$\\undefinedcommand$").figure)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_figure(draw(), Path(d) / "f.png").stat().st_size > 0
    True
    """
    out = Path(out)
    with mpl.rc_context({"text.parse_math": False}):  # texts made while drawing are plain too
        fig.canvas.draw()  # lays the ticks out: their labels exist now
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                for label in axis.get_ticklabels(which="both"):
                    if _FORMATTER_MATH.fullmatch(label.get_text()):
                        label.set_parse_math(True)
        fig.savefig(out, format="png")
    return out
