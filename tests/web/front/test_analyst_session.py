"""An analyst's session from start to end on one page, in a real browser: type a query, run it
with Ctrl+Enter, page and sort the table, chart it, map it, run a 20 KB query, search for a
country, open its page and its graph view, check axe. The page fails on any console error,
uncaught exception or request to a host other than the server (``watching``)."""

from __future__ import annotations

import re

import pytest

from tests.web.front.conftest import Watched
from tests.web.front.test_query_page import run

pytestmark = pytest.mark.slow

TYPED = (
    "SELECT ?country ?name ?numeric WHERE {\n"
    "?country a schema:Country ; skos:prefLabel ?name ; iomo:iso3166Numeric ?n .\n"
    'BIND(xsd:integer(?n) AS ?numeric) FILTER(lang(?name) = "en") }'
)


def test_an_analyst_session_from_query_to_resource(watched: Watched) -> None:
    page = watched.page
    watched.open("/sparql")
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    for line in TYPED.split("\n"):  # typed key by key, completion popups closed at each line
        page.keyboard.type(line)
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("section.results.live")
    assert re.search(r"\d+ rows in \d+ ms", page.inner_text("section.results.live"))

    rows = page.locator("section.results.live tbody tr")
    status = page.locator(".page-status")
    assert rows.count() == 25 and "page 1 of" in status.inner_text()
    page.click("text=Next page")
    assert "page 2 of" in status.inner_text()
    page.click("th button.sort >> text=?numeric")
    numbers = [int(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(rows.count())]
    assert numbers == sorted(numbers) and "page 1 of" in status.inner_text()

    page.click("[role=tab][data-view=chart]")
    assert page.wait_for_selector("div.chart canvas").bounding_box()["height"] > 200
    page.select_option("select[id$=-type]", "pie")
    page.click("[role=tab][data-view=map]")
    page.wait_for_selector("div.chart.map canvas")
    label = page.get_attribute("div.chart.map", "aria-label") or ""
    described = re.search(r"map of (\d+) countries", label)
    assert described and int(described.group(1)) > 100
    assert watched.axe("session-query-map", every=True) == []
    watched.shoot("session-query-map")

    values = " ".join(f"<id/country/X{i:04d}>" for i in range(1200))
    long_query = (
        f"SELECT ?c ?name WHERE {{ VALUES ?c {{ {values} <id/country/NO> }} "
        "?c skos:prefLabel ?name }"
    )
    assert len(long_query.encode()) > 20_000
    page.evaluate("(text) => iomkg.editor.setValue(text)", long_query)
    with page.expect_request(lambda r: r.url.endswith("/sparql") and r.method == "POST"):
        run(watched)
    page.wait_for_selector("section.results.live tbody >> text=Norway")

    page.fill("#site-search", "North Macedonia")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=North+Macedonia")
    page.click("ol.hits li a >> nth=0")
    page.wait_for_url("**/id/country/MK")
    graph = page.wait_for_selector("section.neighbours div.chart canvas", state="attached")
    assert graph.bounding_box()["height"] > 200
    assert "The neighbours of North Macedonia" in (
        page.get_attribute("section.neighbours div.chart", "aria-label") or ""
    )
    assert watched.axe("session-resource", every=True) == []
    watched.shoot("session-resource-graph", "section.neighbours div.chart")
