"""Open a page in headless Chromium (Debian's ``chromium``, driven by Playwright) and report what it did.

:func:`render` loads a local HTML file with every network request refused (a self-contained page needs
none), waits until the expected number of Plotly charts have drawn their SVG, and returns the console
errors, uncaught page errors and refused requests, after saving a full-page screenshot.
:func:`chromium_or_skip` finds the browser or skips the calling test, saying what is missing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Executables tried in order (``CHIPTWIN_CHROMIUM`` overrides)."""

RENDER_TIMEOUT_MS = 60_000
"""Longest wait for the page to load and draw every chart (plotly.js is ~4.7 MB to parse)."""


_DRAWN = (
    "[...document.querySelectorAll('section.chiptwin-chart')]"
    ".filter(s => s.querySelector('.js-plotly-plot .main-svg')).length"
)
"""JavaScript: the chart sections whose Plotly plot has drawn its SVG plot area."""


_SEEN = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; };
  const texts = [...document.querySelectorAll('.infolayer text')];
  return {
    legends: [...document.querySelectorAll('.legendtext')].map(box),
    axis_titles: texts.filter(e => /^[xy][0-9]*title$/.test(e.getAttribute('class'))).map(box),
    chart_titles: [...texts.filter(e => e.getAttribute('class') === 'gtitle'),
                   ...document.querySelectorAll('.annotation-text')].map(box),
    widest: Math.max(...[...document.querySelectorAll('.js-plotly-plot')]
      .map(e => e.getBoundingClientRect().right)),
  };
}"""
"""JavaScript: what a reader sees of each chart: legend entries, axis titles, chart and panel titles and
other annotations (text, left and right edge in px), and the right edge of the widest chart."""


@dataclass
class Rendered:
    charts: int
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    legends: list[tuple[str, float, float]] = field(default_factory=list)
    axis_titles: list[tuple[str, float, float]] = field(default_factory=list)
    chart_titles: list[tuple[str, float, float]] = field(default_factory=list)
    widest_px: float = 0.0


def chromium_or_skip() -> str:
    """Path of a Chromium executable usable by Playwright, or skip the test saying what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("no browser test: playwright is not installed (pip install -e '.[dev]')")
    exe = os.environ.get("CHIPTWIN_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if exe is None:
        pytest.skip("no browser test: no chromium could be found (apt-get install -y chromium; .ci/run does)")
    return exe


def render(
    exe: str, page_file: Path, expected_charts: int, screenshot: Path, *, width: int = 1200
) -> Rendered:
    """Load ``page_file`` in a window ``width`` px wide, wait for ``expected_charts`` drawn charts,
    screenshot it, return what happened and what is on screen."""
    from playwright.sync_api import sync_playwright

    result = Rendered(charts=0)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=exe, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: result.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: result.page_errors.append(str(e)))

            def refuse(route):  # type: ignore[no-untyped-def]
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    result.refused.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse)
            page.goto(page_file.resolve().as_uri(), timeout=RENDER_TIMEOUT_MS)
            page.wait_for_function(f"n => {_DRAWN} >= n", arg=expected_charts, timeout=RENDER_TIMEOUT_MS)
            result.charts = page.evaluate(_DRAWN)
            seen = page.evaluate(_SEEN)
            result.legends = [tuple(x) for x in seen["legends"]]
            result.axis_titles = [tuple(x) for x in seen["axis_titles"]]
            result.chart_titles = [tuple(x) for x in seen["chart_titles"]]
            result.widest_px = float(seen["widest"])
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return result
