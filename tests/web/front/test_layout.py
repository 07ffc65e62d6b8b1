"""No page is wider than the window, on a phone (375 px) or a laptop (1280 px): measured in
Chromium on the build make run serves (the IATI samples' long names and the dashboards drawn),
as ``document.scrollingElement.scrollWidth`` against ``innerWidth``. Wide answers scroll inside
their own box; long IRIs and names break."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servers import LiveServer
from tests.web.front.conftest import watching

pytestmark = pytest.mark.slow

PAGES = (
    "/",
    "/api/",
    "/api/queries/list-donors",
    "/api/queries/list-donors?programme=id:project/ntf&format=html",
    "/id/project/ntf",
    "/id/country/MK",
    "/id/codelist/iati/Country/MK",
    "/sparql?query=SELECT+*+WHERE+%7B+%3Fs+%3Fp+%3Fo+%7D+LIMIT+20",
    "/search?q=north+macedonia",
    "/ontology",
    "/.well-known/void",
    "/download/",
)


@pytest.mark.parametrize("width", [375, 1280])
def test_no_page_is_wider_than_the_window(
    browser: Any, project_server: LiveServer, width: int
) -> None:
    too_wide: list[str] = []
    with watching(browser, project_server) as watched:
        watched.page.set_viewport_size({"width": width, "height": 800})
        for path in PAGES:
            watched.open(path)
            if path == "/":  # the dashboards drawn: their charts and tables take their width
                watched.page.wait_for_selector("#dashboard-list-programme-donors dl.grouped")
                watched.page.wait_for_selector("#dashboard-show-activities-per-country canvas")
            scroll, inner = watched.page.evaluate(
                "[document.scrollingElement.scrollWidth, innerWidth]"
            )
            if scroll > inner:
                too_wide.append(f"{path}: {scroll} px wide in a {inner} px window")
    assert not too_wide, "\n".join(too_wide)
