"""Search on every page: labels and identifiers, ranked, leading to resource pages."""

from __future__ import annotations

import re

import requests

from tests.servers import LiveServer

BROWSER = "text/html,application/xhtml+xml"


def hits(server: LiveServer, text: str) -> list[str]:
    page = requests.get(
        server.url + "/search", params={"q": text}, headers={"Accept": BROWSER}, timeout=30
    )
    assert page.status_code == 200
    block = page.text.split('<ol class="hits">', 1)[-1].split("</ol>", 1)[0]
    return re.findall(r'<a href="([^"]+)">', block)


def test_every_page_has_the_search_box(live_server: LiveServer) -> None:
    for path in ("/", "/sparql", "/id/country/NO", "/api/", "/ontology", "/download/"):
        page = requests.get(live_server.url + path, headers={"Accept": BROWSER}, timeout=30)
        assert 'role="search"' in page.text and 'name="q"' in page.text, path


def test_a_name_in_any_case_finds_the_country_first(live_server: LiveServer) -> None:
    for text in ("Norway", "norway", "NORWAY", "norw"):
        assert hits(live_server, text)[0] == "/id/country/NO", text


def test_iso_codes_find_their_country(live_server: LiveServer) -> None:
    for text in ("NO", "no", "NOR", "578"):
        assert hits(live_server, text)[0] == "/id/country/NO", text
    assert hits(live_server, "MK")[0] == "/id/country/MK"


def test_nothing_found_says_so(live_server: LiveServer) -> None:
    page = requests.get(
        live_server.url + "/search", params={"q": "zzqx"}, headers={"Accept": BROWSER}, timeout=30
    )
    assert "Nothing in the graph is named" in page.text
