"""The query page in a real browser: editor, completion, error markers, Ctrl+Enter, the table,
charts, maps, Turtle and graph views, history, links, downloads, a 20 KB query, axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from iomkg.config import DEFAULT_BASE_IRI
from iomkg.syntaxhelp import check_syntax
from tests.web.front.conftest import Watched
from tests.web.front.test_syntax_messages import MISTAKES, PREFIXES

pytestmark = pytest.mark.slow

COUNTRIES = """SELECT ?country ?name ?numeric WHERE {
  ?country a schema:Country ; skos:prefLabel ?name ; iomo:iso3166Numeric ?n .
  BIND(xsd:integer(?n) AS ?numeric)
  FILTER(lang(?name) = "en")
}"""


def editor_text(watched: Watched, text: str) -> None:
    """Replace the editor's text by typing it, as a person would (completion popups closed)."""
    page = watched.page
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def run(watched: Watched) -> Any:
    watched.page.click(".CodeMirror")
    watched.page.keyboard.press("Control+Enter")
    return watched.page.wait_for_selector("section.results.live, section.error-box[role=alert]")


def test_the_editor_highlights_completes_and_runs_with_ctrl_enter(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    assert page.locator(".CodeMirror .cm-keyword").count() > 0  # SELECT, WHERE… highlighted
    editor_text(watched, "SELECT ?s WHERE { ?s a ")
    page.keyboard.type("iomo:Fu")
    page.wait_for_selector(".CodeMirror-hints")
    hints = page.locator(".CodeMirror-hint").all_inner_texts()
    assert any(h.startswith("iomo:Funding") for h in hints), hints
    page.keyboard.press("Enter")  # take the completion
    page.keyboard.type(" }")
    assert "?s a iomo:Funding }" in page.evaluate("iomkg.editor.getValue()")
    # A predeclared prefix is no error: no marker once the check has answered.
    page.wait_for_timeout(900)
    assert page.locator(".CodeMirror-lint-mark-error").count() == 0
    assert page.inner_text("#syntax-problem") == ""
    run(watched)
    assert re.search(r"\d+ rows? in \d+ ms", page.inner_text("section.results.live"))
    assert page.locator("section.results.live tbody tr").count() > 0


def test_prefix_completion_offers_the_predeclared_prefixes(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, "SELECT * WHERE { ?s ")
    page.keyboard.type("sch")
    page.keyboard.press("Control+Space")
    page.wait_for_selector(".CodeMirror-hints")
    assert any(h.startswith("schema:") for h in page.locator(".CodeMirror-hint").all_inner_texts())
    page.keyboard.press("Escape")


def test_saved_queries_are_completed_by_name(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, "")
    page.keyboard.type("#sum-fund")
    page.keyboard.press("Control+Space")
    page.wait_for_selector(".CodeMirror-hints")
    page.click(".CodeMirror-hint >> text=saved query: sum-funding-per-donor")
    assert "SUM(?amount)" in page.evaluate("iomkg.editor.getValue()")


def test_errors_are_marked_where_they_are_with_a_hint(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, "SELECT * WHERE {\n  ?s schema:location id:country/NO\n}")
    page.wait_for_selector(".CodeMirror-lint-mark-error")
    problem = page.inner_text("#syntax-problem")
    assert "line 2, column 22" in problem and "Write <id/country/NO>" in problem
    run(watched)
    alert = page.inner_text("section.error-box")
    assert "does not parse" in alert and "Write <id/country/NO>" in alert
    assert "u{" not in alert  # no list of Unicode ranges
    page.wait_for_timeout(600)  # the editor's own check, if it answers late, shows nothing more
    assert page.inner_text("#syntax-problem") == ""
    assert page.inner_text("main").count("Write <id/country/NO>") == 1  # said once
    watched.shoot("query-syntax-error")
    page.click(".CodeMirror")
    page.keyboard.press("Control+End")
    page.keyboard.type(" ")  # an edit: the error box is stale, the editor says it again
    page.wait_for_selector("#syntax-problem.shown")
    assert page.locator("section.error-box").count() == 0
    assert page.inner_text("main").count("Write <id/country/NO>") == 1


def test_the_page_says_each_mistake_as_the_check_does(watched: Watched) -> None:
    """A missing "}" before ORDER BY, a missing "." and a misspelt FILTER, typed in the editor:
    the editor's note and the run's error box say what /sparql/check and the CLI say."""
    watched.open("/sparql")
    page = watched.page
    for name in ("missing-brace-before-order-by", "missing-dot-between-triples", "misspelt-filter"):
        sparql = MISTAKES[name][0]
        said = check_syntax(sparql, PREFIXES, DEFAULT_BASE_IRI)
        assert said is not None
        editor_text(watched, sparql)
        page.wait_for_function(
            "text => document.querySelector('#syntax-problem').textContent === text",
            arg=said.text(),
        )
        marked = page.locator(".CodeMirror-lint-mark-error")
        assert marked.count() == 1
        if said.length:
            assert marked.inner_text() == said.token
        run(watched)
        assert said.text() in page.inner_text("section.error-box pre")


def test_the_table_pages_sorts_and_filters_the_whole_answer(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, COUNTRIES)
    run(watched)
    rows = page.locator("section.results.live tbody tr")
    status = page.locator(".page-status")
    total = int(re.search(r"of (\d+),", status.inner_text()).group(1))
    assert rows.count() == 25 and total > 25
    page.click("text=Next page")
    pages = -(-total // 25)
    assert rows.count() == min(25, total - 25) and f"page 2 of {pages}" in status.inner_text()
    page.click("th button.sort >> text=?numeric")
    header = page.locator("th", has=page.locator("button.sort", has_text="?numeric"))
    assert header.get_attribute("aria-sort") == "ascending"
    first = [int(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(5)]
    assert first == sorted(first)
    page.click("th button.sort >> text=?numeric")  # again: descending
    assert header.get_attribute("aria-sort") == "descending"
    page.fill(".table-controls input[type=search]", "norw")
    assert rows.count() == 1 and "Norway" in rows.first.inner_text()
    link = rows.first.locator("a").first
    assert link.inner_text() == "id:country/NO" and link.get_attribute("href") == "/id/country/NO"
    assert "@en" in rows.first.inner_text()  # language tags shown
    page.fill(".table-controls input[type=search]", "")
    watched.shoot("query-table")


def test_a_numeric_answer_is_a_chart_and_the_page_passes_axe(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, COUNTRIES + " ORDER BY DESC(?numeric) LIMIT 12")
    run(watched)
    page.click("[role=tab][data-view=chart]")
    chart = page.wait_for_selector("div.chart canvas")
    assert chart.bounding_box()["height"] > 200
    assert page.locator("div.chart[aria-label]").count() == 1
    assert page.input_value("select[id$=-label]") == "name"  # bars named by names, not IRIs
    page.select_option("select[id$=-type]", "pie")
    page.select_option("select[id$=-type]", "line")
    page.select_option("select[id$=-type]", "bar")
    watched.shoot("query-chart")
    assert watched.axe("query-chart", every=True) == []


def test_country_codes_are_a_map(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, COUNTRIES)
    run(watched)
    page.click("[role=tab][data-view=map]")
    page.wait_for_selector("div.chart.map canvas")
    page.wait_for_timeout(300)
    assert "Countries from ?country" in page.inner_text(".tabpanel:not([hidden])")
    watched.shoot("query-map")


WKT = "^^<http://www.opengis.net/ont/geosparql#wktLiteral>"
#: The shape of the IATI import's locations (list-iati-locations: a name, a WKT point, the
#: recipient countries' codes space-separated), given as literals: no fact of the graph.
POINTS = (
    "SELECT ?place ?where ?countryCodes WHERE { VALUES (?place ?where ?countryCodes) {"
    f' ("Belgrade" "POINT(20.46 44.82)"{WKT} "RS")'
    f' ("Skopje" "POINT(21.43 42.00)"{WKT} "MK RS")'
    f' ("Pristina" "<http://www.opengis.net/def/crs/EPSG/0/4326> POINT(42.67 21.17)"{WKT} "")'
    " } }"
)


def test_wkt_points_and_country_codes_are_drawn_on_the_map(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, POINTS)
    run(watched)
    page.click("[role=tab][data-view=map]")
    page.wait_for_selector("div.chart.map canvas")
    panel = page.inner_text(".tabpanel:not([hidden])")
    assert "Countries from ?countryCodes." in panel and "Points from ?where." in panel
    label = page.get_attribute("div.chart.map", "aria-label") or ""
    assert "map of 2 countries and 3 points" in label
    option = page.evaluate(
        """() => {
            const o = echarts.getInstanceByDom(document.querySelector('div.chart.map')).getOption();
            return { countries: o.series[0].data.filter((d) => d.value != null)
                .map((d) => [d.name, d.value]),
                     points: o.series[1].data.map((d) => [d.name, d.value]) };
        }"""
    )
    assert sorted(option["countries"]) == [["MK", 1], ["RS", 2]]  # RS in two rows
    assert option["points"] == [
        ["Belgrade", [20.46, 44.82]],
        ["Skopje", [21.43, 42.0]],
        ["Pristina", [21.17, 42.67]],
    ]
    watched.shoot("query-map-points", "div.chart.map")


def test_a_20_kb_query_is_sent_by_post_and_answers(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    countries = " ".join(f"<id/country/X{i:04d}>" for i in range(1200))
    query = (
        f"SELECT ?c ?name WHERE {{ VALUES ?c {{ {countries} <id/country/NO> }} "
        "?c skos:prefLabel ?name }"
    )
    assert len(query.encode()) > 20_000
    methods: list[str] = []
    page.on("request", lambda r: methods.append(r.method) if r.url.endswith("/sparql") else None)
    editor_text(watched, query)
    run(watched)
    assert "POST" in methods
    assert "Norway" in page.inner_text("section.results.live tbody")


def test_history_and_a_link_reopen_a_query(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, COUNTRIES + " LIMIT 3")
    run(watched)
    link = page.get_attribute("#permalink", "href")
    assert link and "query=" in link
    watched.open("/sparql")  # a new visit: the history is kept in this browser
    page.click("details.history summary")
    entry = page.locator("#history-list button").first
    assert "SELECT ?country ?name ?numeric WHERE {" in entry.inner_text()
    editor_text(watched, "")
    entry.click()
    assert "LIMIT 3" in page.evaluate("iomkg.editor.getValue()")
    page.goto("about:blank")
    page.goto(watched.server.url + "/sparql#" + "query=" + quote(COUNTRIES + " LIMIT 2"))
    page.wait_for_selector("section.results.live")
    assert page.locator("section.results.live tbody tr").count() == 2


def test_construct_answers_as_turtle_and_as_a_graph(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, "CONSTRUCT WHERE { <id/project/ntf> ?p ?o }")
    run(watched)
    page.wait_for_selector("pre.turtle span")  # highlighted Turtle
    assert "@prefix" in page.inner_text("pre.turtle") or "<https://" in page.inner_text(
        "pre.turtle"
    )
    page.click("[role=tab][data-view=graph]")
    page.wait_for_selector("div.chart.graph canvas")
    labels = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('div.chart.graph'))
            .getOption().series[0].data.map((node) => node.text)"""
    )
    # Nodes are named as the pages name them: the lines it is derived from by their document's
    # title, resources by their labels; no hashed source IRI.
    assert "IOM Serbia page, line 14" in labels and "Serbia" in labels
    assert not any("000_" in label for label in labels)
    assert "(blank node)" in labels  # the budget's amount, not its hash
    watched.shoot("query-construct-graph")
    page.click("[role=tab][data-view=raw]")
    assert "<https://w3id.org/iomkg/id/project/ntf>" in page.inner_text("pre.raw")


def test_downloads_give_the_answer_in_each_format(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    editor_text(watched, COUNTRIES + " LIMIT 4")
    run(watched)
    buttons = page.locator("p.downloads button")
    assert buttons.all_inner_texts() == ["JSON", "XML", "CSV", "TSV"]
    with page.expect_download() as download:
        page.click("p.downloads button >> text=CSV")
    saved = download.value
    assert saved.suggested_filename == "result.csv"
    text = Path(saved.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "country,name,numeric" and len(text.splitlines()) == 5


def test_the_page_is_usable_from_the_keyboard(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.click(".CodeMirror")
    page.keyboard.press("Tab")  # Tab leaves the editor: no keyboard trap
    assert page.evaluate("document.activeElement.textContent") == "Run"
    page.keyboard.press("Enter")
    page.wait_for_selector("section.results.live")
    page.focus("[role=tab][data-view=table]")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("[role=tab][data-view=chart]", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.dataset.view") == "chart"


def focus_by_tab(watched: Watched, test: str, limit: int = 80) -> None:
    """Press Tab until the focused element satisfies ``test`` (a JS expression on ``el``)."""
    for _ in range(limit):
        watched.page.keyboard.press("Tab")
        if watched.page.evaluate(
            f"(() => {{ const el = document.activeElement; return {test}; }})()"
        ):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_keyboard_only_a_query_its_results_and_a_resource(watched: Watched) -> None:
    """No mouse: reach the editor, type, run with Ctrl+Enter, reach a result and open it."""
    watched.open("/sparql")
    page = watched.page
    focus_by_tab(watched, "!!el.closest('.CodeMirror')")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(COUNTRIES + " ORDER BY ?name LIMIT 3")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("section.results.live tbody tr")
    focus_by_tab(watched, "el.matches('section.results.live tbody a[href^=\"/id/\"]')")
    href = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    page.wait_for_url("**" + href)
    assert page.locator("h1").count() == 1
    watched.shoot("keyboard-resource")


def test_keyboard_only_search_opens_a_resource(watched: Watched) -> None:
    watched.open("/")
    page = watched.page
    focus_by_tab(watched, "el.id === 'site-search'")
    page.keyboard.type("norway")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=norway")
    focus_by_tab(watched, "el.matches('ol.hits li a')")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/id/country/NO"
    page.keyboard.press("Enter")
    page.wait_for_url("**/id/country/NO")
    assert page.inner_text("h1") == "Norway"
