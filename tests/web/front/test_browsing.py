"""The pages around the editor in a real browser: the home page's dashboards, search, a resource
page with its neighbour graph and its sources by title, the API page; axe."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.servers import LiveServer
from tests.web.conftest import UPDATE_TOKEN
from tests.web.front.conftest import Watched, watching

pytestmark = pytest.mark.slow

BASE = "https://w3id.org/iomkg/"
DASHBOARDS = (
    "sum-iati-funder-commitments",
    "show-activities-per-year",
    "show-activities-per-country",
    "list-programme-donors",
)


def drawn(watched: Watched, selector: str) -> Any:
    return watched.page.wait_for_selector(selector, state="attached")


def answer(server: LiveServer, name: str) -> list[dict[str, str]]:
    """A saved query's rows from the API, each column's value as text."""
    found = requests.get(
        f"{server.url}/api/queries/{name}",
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    ).json()
    return [{k: v["value"] for k, v in row.items()} for row in found["results"]["bindings"]]


def chart_option(watched: Watched, selector: str) -> Any:
    """The ECharts option a dashboard's chart was drawn with (axes, series)."""
    return watched.page.evaluate(
        "s => { const o = echarts.getInstanceByDom(document.querySelector(s)).getOption();"
        " return { xAxis: o.xAxis, yAxis: o.yAxis, series: o.series.map(x => x.name) }; }",
        selector,
    )


def test_the_home_page_has_dashboards_from_saved_queries(
    browser: Any, project_server: LiveServer
) -> None:
    """On the build make run serves (the IATI samples imported): IOM's funders by the amounts
    they committed, activities per start year, per country on the map, each programme's donors;
    a page a person scrolls through (the 10 largest drawn, the rest a link away)."""
    commitments = answer(project_server, "sum-iati-funder-commitments")
    years = answer(project_server, "show-activities-per-year")
    with watching(browser, project_server) as watched:
        watched.open("/")
        page = watched.page
        for name in DASHBOARDS:
            board = f"#dashboard-{name}"
            drawn(watched, f"{board} canvas, {board} dl.grouped")
            assert page.inner_text(f"{board} .dashboard-status") == "", name
            assert page.locator(f'{board} a[href="/api/queries/{name}"]').count() >= 1, name
        funding = "#dashboard-sum-iati-funder-commitments div.chart"
        assert (page.get_attribute(funding, "aria-label") or "").startswith(
            "Funders of IOM by committed amount and currency (IATI) (bar chart of 10 values)"
        )
        option = chart_option(watched, funding)
        assert {row["currency"] for row in commitments} == {"USD"}
        assert option["xAxis"][0]["name"] == "committed to IOM (USD)"  # the amounts' axis
        assert option["series"] == ["committed (USD)"]
        assert option["yAxis"][0]["data"] == [row["funderLabel"] for row in commitments[:10]]
        more = page.inner_text("#dashboard-sum-iati-funder-commitments p.more")
        total = len(commitments)
        assert more == f"The 10 largest of {total} rows are drawn; all {total} in the answer."
        page.click("#dashboard-sum-iati-funder-commitments details.figures summary")
        rows = page.inner_text("#dashboard-sum-iati-funder-commitments tbody").split("\n")
        largest = commitments[0]
        assert len(rows) == 10 and rows[0] == "\t".join(
            [
                largest["funderLabel"],
                "USD",
                f"{float(largest['committed']):,.2f}",
                largest["activities"],
            ]
        )
        assert "(not stated)" not in page.inner_text("#dashboard-sum-iati-funder-commitments")
        per_year = "#dashboard-show-activities-per-year div.chart"
        span = int(years[-1]["year"]) - int(years[0]["year"]) + 1  # gaps drawn as 0
        assert f"(bar chart of {span} values)" in (page.get_attribute(per_year, "aria-label") or "")
        option = chart_option(watched, per_year)
        assert option["yAxis"][0]["name"] == "projects and activities starting"
        assert option["xAxis"][0]["data"][0] == years[0]["year"]  # a time line, left to right
        page.click("#dashboard-show-activities-per-year details.figures summary")
        shown = page.inner_text("#dashboard-show-activities-per-year tbody").split("\n")
        assert shown == [f"{r['year']}\t{r['activities']}\t{r['iatiActivities']}" for r in years]
        countries = answer(project_server, "show-activities-per-country")
        country_map = page.get_attribute(
            "#dashboard-show-activities-per-country div.chart.map", "aria-label"
        )
        assert f"map of {len(countries)} countries" in (country_map or "")
        page.click("#dashboard-show-activities-per-country details.figures summary")
        assert page.locator("#dashboard-show-activities-per-country tbody tr").count() == 10
        assert page.locator("#dashboard-show-activities-per-country p.no-iati").count() == 0
        donors = page.locator("#dashboard-list-programme-donors dl.grouped")
        assert donors.locator("dt").count() == 4  # the programmes, not the IATI activities
        ntf = donors.locator("dt", has=page.locator('a[href="/id/project/ntf"]'))
        assert ntf.count() == 1 and "(18 donors)" in ntf.inner_text()
        roles = donors.locator("dd").nth(3).locator("p.members").all_inner_texts()
        assert roles[0] == "lead nation: Norway" and roles[1].startswith("contributors: Austria")
        height = page.evaluate("document.scrollingElement.scrollHeight")
        assert height < 5000, height  # 3,806 measured; 25,816 with every IATI activity's donors
        watched.shoot("home")
        watched.shoot("home-dashboards", "section.dashboards-all")
        assert watched.axe("home", every=True) == []


def test_the_seed_build_says_why_there_are_no_commitments(watched: Watched) -> None:
    """The source pages state no amount per donor: the funding dashboard says so (never a count
    of donors under "(not stated)"); the others draw the seed's programmes."""
    watched.open("/")
    page = watched.page
    page.wait_for_selector("#dashboard-sum-iati-funder-commitments .dashboard-status.empty")
    said = page.inner_text("#dashboard-sum-iati-funder-commitments .dashboard-status")
    assert said.startswith("No commitments to show: the source pages state no amount per donor")
    assert page.locator("#dashboard-sum-iati-funder-commitments canvas").count() == 0
    drawn(watched, "#dashboard-show-activities-per-year canvas")
    for name in ("show-activities-per-year", "show-activities-per-country"):
        note = page.inner_text(f"#dashboard-{name} p.no-iati")
        assert note.startswith("No IATI activities imported"), name
    donors = page.locator("#dashboard-list-programme-donors dl.grouped")
    assert donors.locator("dt").count() == 4


def test_dashboards_say_when_a_query_has_no_answer(browser: Any, update_server: LiveServer) -> None:
    """On a graph emptied by an update, each dashboard says what is missing, and the ones over
    activities that no IATI activities are imported; nothing breaks (no console error)."""
    emptied = requests.post(
        update_server.sparql,
        data="DROP ALL",
        headers={
            "Content-Type": "application/sparql-update",
            "Authorization": f"Bearer {UPDATE_TOKEN}",
        },
        timeout=30,
    )
    assert emptied.status_code == 204, emptied.text
    with watching(browser, update_server) as watched:
        watched.open("/")
        page = watched.page
        for name in DASHBOARDS:
            status = f"#dashboard-{name} .dashboard-status.empty"
            page.wait_for_selector(status)
            assert page.locator(f"#dashboard-{name} canvas").count() == 0, name
        for name in ("show-activities-per-year", "show-activities-per-country"):
            text = page.inner_text(f"#dashboard-{name} .dashboard-status")
            assert "No IATI activities imported" in text, name
        assert page.inner_text("#dashboard-list-programme-donors .dashboard-status") == (
            "No programme with a stated donor in this build."
        )
        watched.shoot("home-empty")


def test_search_for_a_country_leads_to_its_page(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    page.fill("#site-search", "norway")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=norway")
    first = page.locator("ol.hits li a").first
    assert first.get_attribute("href") == "/id/country/NO"
    watched.shoot("search")
    assert watched.axe("search", every=True) == []
    first.click()
    page.wait_for_url("**/id/country/NO")
    assert page.inner_text("h1") == "Norway"


def node_position(watched: Watched, selector: str, iri: str) -> tuple[float, float]:
    """Where the graph view drew the node of ``iri``, in page coordinates (ECharts' own
    convertToPixel turns the node's layout into the container's pixels, roam included)."""
    position = watched.page.evaluate(
        """([selector, iri]) => {
            const chart = echarts.getInstanceByDom(document.querySelector(selector));
            const data = chart.getModel().getSeriesByIndex(0).getData();
            const index = data.indexOfName(iri);
            if (index < 0) return null;
            return chart.convertToPixel({ seriesIndex: 0 }, data.getItemLayout(index));
        }""",
        [selector, iri],
    )
    assert position is not None, f"{iri} is not a node of the graph in {selector}"
    box = watched.page.locator(selector).bounding_box()
    x, y = position
    assert 0 < x < box["width"] and 0 < y < box["height"], f"{iri} is drawn outside the box"
    return box["x"] + x, box["y"] + y


def test_a_resource_page_shows_its_neighbours_and_its_sources_by_title(watched: Watched) -> None:
    watched.open("/id/project/ntf")
    page = watched.page
    graph = "section.neighbours div.chart"
    drawn(watched, graph + " canvas")
    label = page.get_attribute(graph, "aria-label") or ""
    assert label.startswith("The neighbours of NATO/PfP Trust Fund") and "resources" in label
    sources = page.inner_text("section.sources")
    assert "IOM Serbia page: IOM at a glance" in sources  # the document by its title
    stated = page.inner_text("table.properties")
    assert "IOM Serbia page, line " in stated and "000…" not in stated
    watched.shoot("resource")
    watched.shoot("resource-graph", graph)
    assert watched.axe("resource", every=True) == []
    # Norway is two steps away: the project is funded by a funding whose funder is Norway. In
    # this crowded graph a node may lie under another: the click goes to Serbia's node or to
    # the funding by Norway, whichever has no other node within 16 px, then on to Norway.
    clear = page.evaluate(
        """([selector, iris]) => {
            const chart = echarts.getInstanceByDom(document.querySelector(selector));
            const data = chart.getModel().getSeriesByIndex(0).getData();
            const at = (i) => chart.convertToPixel({ seriesIndex: 0 }, data.getItemLayout(i));
            for (const iri of iris) {
                const p = at(data.indexOfName(iri));
                let alone = true;
                for (let i = 0; i < data.count(); i++) {
                    const q = at(i);
                    const near = Math.hypot(p[0] - q[0], p[1] - q[1]) < 16;
                    if (near && data.getName(i) !== iri) alone = false;
                }
                if (alone) return iri;
            }
            return null;
        }""",
        [graph, [BASE + "id/funding/ntf-NO", BASE + "id/country/RS"]],
    )
    assert clear is not None, "every candidate node lies under another"
    x, y = node_position(watched, graph, clear)
    page.mouse.click(x, y)  # a node opens its page
    page.wait_for_url("**/" + clear.removeprefix(BASE))
    drawn(watched, graph + " canvas")
    if clear.endswith("country/RS"):
        return  # Serbia's page: reached by a click on its node
    x, y = node_position(watched, graph, "https://w3id.org/iomkg/id/country/NO")
    page.mouse.click(x, y)
    page.wait_for_url("**/id/country/NO")
    assert page.inner_text("h1") == "Norway"
    drawn(watched, graph + " canvas")
    watched.shoot("resource-country")


def test_the_api_page_passes_axe(watched: Watched) -> None:
    watched.open("/api/")
    watched.shoot("api")
    assert watched.axe("api", every=True) == []
