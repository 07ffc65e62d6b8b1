"""The pages around the editor in a real browser: search, a resource page with its neighbour
graph and its sources by title, the API page; axe."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.front.conftest import Watched

pytestmark = pytest.mark.slow


def drawn(watched: Watched, selector: str) -> Any:
    return watched.page.wait_for_selector(selector, state="attached")


def test_search_for_a_country_leads_to_its_page(watched: Watched) -> None:
    watched.open("/sparql")
    page = watched.page
    page.fill("#site-search", "norway")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=norway")
    first = page.locator("ol.hits li a").first
    assert first.get_attribute("href") == "/id/country/NO"
    watched.shoot("search")
    assert watched.axe("search") == []
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
    return box["x"] + position[0], box["y"] + position[1]


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
    assert watched.axe("resource") == []
    # Norway is two steps away: the project is funded by a funding whose funder is Norway.
    x, y = node_position(watched, graph, "https://w3id.org/iomkg/id/funding/ntf-NO")
    page.mouse.click(x, y)  # a node opens its page
    page.wait_for_url("**/id/funding/ntf-NO")
    drawn(watched, graph + " canvas")
    x, y = node_position(watched, graph, "https://w3id.org/iomkg/id/country/NO")
    page.mouse.click(x, y)
    page.wait_for_url("**/id/country/NO")
    assert page.inner_text("h1") == "Norway"
    drawn(watched, graph + " canvas")
    watched.shoot("resource-country")


def test_the_api_page_passes_axe(watched: Watched) -> None:
    watched.open("/api/")
    watched.shoot("api")
    assert watched.axe("api") == []
