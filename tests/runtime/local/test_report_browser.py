"""The local report in a real browser (headless Chromium, tools/browser.py): it runs without
a console error or a network request, every chart panel draws a line per symbol, and a click
on a legend entry highlights that symbol in every chart.

Skipped, saying how to install one, where no Chromium is found (STOCKPIPE_CHROMIUM, default
/usr/bin/chromium); CI installs one (.ci/chromium) and sets STOCKPIPE_BROWSER_REQUIRED, which
turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.panels import TIME_SERIES_FORMAT, load_panels
from tests.runtime.local.test_cli import AS_OF, SYMBOLS, run_day
from tools.browser import chromium, missing_chromium


@pytest.fixture(scope="module", autouse=True)
def _a_browser() -> None:
    problem = missing_chromium()
    if problem and os.environ.get(REQUIRED_ENV):
        pytest.fail(f"{REQUIRED_ENV} is set: {problem}")
    if problem:
        pytest.skip(problem)


REQUIRED_ENV = "STOCKPIPE_BROWSER_REQUIRED"

CHART_PANELS = [panel for panel in load_panels() if panel.format == TIME_SERIES_FORMAT]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    assert run_day(data_dir, AS_OF) == 0
    return data_dir / "report.html"


@pytest.fixture(scope="module")
def opened(report: Path) -> Iterator[tuple]:
    """The report loaded in Chromium, with every console message and request it made."""
    with chromium() as browser:
        page = browser.new_page()
        console: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        yield page, console, requests


def test_the_page_runs_without_a_console_error(opened) -> None:
    _, console, _ = opened

    assert [line for line in console if line.startswith(("error", "pageerror"))] == []


def test_the_page_makes_no_network_request(opened, report: Path) -> None:
    _, _, requests = opened

    assert requests == [report.as_uri()]  # the page itself, nothing else


def test_every_chart_panel_draws_a_line_per_symbol(opened) -> None:
    page, _, _ = opened

    for panel in CHART_PANELS:
        lines = page.locator(f"#panel-{panel.id} svg.chart polyline.line")
        assert sorted(lines.evaluate_all("ls => ls.map(l => l.dataset.symbol)")) == sorted(
            SYMBOLS
        ), panel.id
        # drawn: each line has a visible length on screen
        boxes = lines.evaluate_all("ls => ls.map(l => l.getBBox().width)")
        assert all(width > 100 for width in boxes), (panel.id, boxes)


def test_a_legend_click_highlights_the_symbol_in_every_chart_and_a_second_resets(
    opened,
) -> None:
    page, _, _ = opened
    symbol, other = SYMBOLS

    page.locator(f"#panel-{CHART_PANELS[0].id} .legend li[data-symbol='{symbol}']").click()

    dimmed = "ls => ls.map(l => [l.dataset.symbol, getComputedStyle(l).opacity])"
    for panel in CHART_PANELS:
        opacity = dict(page.locator(f"#panel-{panel.id} polyline.line").evaluate_all(dimmed))
        assert float(opacity[symbol]) == 1.0, panel.id
        assert float(opacity[other]) < 0.5, panel.id

    page.locator(f"#panel-{CHART_PANELS[-1].id} .legend li[data-symbol='{symbol}']").click()

    for panel in CHART_PANELS:
        opacity = dict(page.locator(f"#panel-{panel.id} polyline.line").evaluate_all(dimmed))
        assert {float(value) for value in opacity.values()} == {1.0}, panel.id
