"""What a person (and a linked-data client) sees: resource pages, VoID, the home and query pages.

In-process (Flask test client on the in-memory seed store): each test names the problem a new
user reported and shows it gone.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from rdflib.compare import isomorphic

from iomkg import descriptions
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.web import create_app

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
BASE = "https://w3id.org/iomkg/"
NTF_TITLE = "IOM Serbia page: IOM at a glance and the NATO/PfP Trust Fund (NTF) Project"
LINE = "/id/source/000_aa2112c34e1aacb8/line/"
VOID = "http://rdfs.org/ns/void#"


@pytest.fixture
def app(seed_store: OxigraphStore, tmp_path: Path) -> Flask:
    app = create_app(Settings(store_dir=tmp_path / "none"), seed_store, dumps_dir=tmp_path / "no")
    app.testing = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def page(client: FlaskClient, path: str, accept: str = BROWSER) -> str:
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    return response.text


def visible_text(markup: str) -> str:
    """The text a reader sees: no tags, no attributes (tooltips), whitespace collapsed."""
    body = markup.split("<main>", 1)[-1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def row_of(markup: str, property_name: str) -> str:
    """The HTML of the properties-table rows of one property (up to the next property; nested
    tables' headers have no title, the table's own do)."""
    start = markup.index(f">{property_name}</")
    following = re.compile(r'<th rowspan="\d+" title=').search(markup, start)
    return markup[start : following.start() if following else None]


# 1. Resource pages --------------------------------------------------------------------------


def test_each_statement_links_to_its_source_line_and_titles_appear_once(
    client: FlaskClient,
) -> None:
    ntf = page(client, "/id/project/ntf")
    # "stated in": a short link to the line, e.g. the beneficiary is named on line 15
    beneficiary = row_of(ntf, "beneficiary")
    assert f'href="{LINE}15"' in beneficiary and ">IOM Serbia page, line 15</a>" in beneficiary
    # the budget cites line 17 itself (its blank node's prov:wasDerivedFrom)
    assert f'href="{LINE}17"' in row_of(ntf, "budget")
    # a statement that no single line states links to every line of the resource there
    end = row_of(ntf, "end date")
    assert all(f'href="{LINE}{n}"' in end for n in range(14, 20))
    # the document's title is written once, in the Sources section (tooltips aside)
    text = visible_text(ntf)
    assert text.count(NTF_TITLE) == 1
    assert text.index(NTF_TITLE) > text.index("Sources")
    assert 'href="/graph/sources/000_aa2112c34e1aacb8"' in ntf


def test_blank_nodes_are_shown_inline_never_as_a_hash(client: FlaskClient) -> None:
    ntf = page(client, "/id/project/ntf")
    text = visible_text(ntf)
    assert "_:" not in text
    assert "EUR 9,300,000" in text  # the MonetaryAmount, summed up
    assert "5.5 years" in text  # the time:Duration
    assert "Euro" in row_of(ntf, "budget")  # its properties nested (iomo:currency's label)
    membership = visible_text(page(client, "/id/membership/iom-AL"))
    assert "_:" not in membership
    assert "from 1993" in membership and "1993" in membership  # interval → instant → year
    euro = visible_text(page(client, "/id/codelist/iati/Currency/EUR"))
    assert "_:" not in euro  # pointed at by a blank node: shown through its owner
    assert "NATO/PfP Trust Fund Project" in euro and "budget" in euro


def test_property_names_come_from_the_ontology_else_read_well(client: FlaskClient) -> None:
    ntf = page(client, "/id/project/ntf")
    headers = re.findall(r'<th rowspan="\d+" title="([^"]+)">(.*?)</th>', ntf, re.S)
    shown = {iri: visible_text(cell).strip() for iri, cell in headers}
    # the ontology's rdfs:label, with the prefixed name beside it
    assert shown[BASE + "ontology#beneficiary"] == "beneficiary iomo:beneficiary"
    assert shown[BASE + "ontology#targetGroup"] == "target group iomo:targetGroup"
    # no label in the ontology: a readable name, the same way
    assert shown["https://schema.org/endDate"] == "end date schema:endDate"
    assert shown["http://www.w3.org/2004/02/skos/core#altLabel"] == "alt label skos:altLabel"
    assert all(not name.startswith(("schema:", "skos:", "rdf:")) for name in shown.values())


def test_descriptions_in_source_order_and_typed_literals_discreet(client: FlaskClient) -> None:
    ntf = page(client, "/id/project/ntf")
    text = visible_text(row_of(ntf, "description"))
    openings = [
        "Through the NTF Project",  # line 15
        "The NTF Project targeted",  # line 16, first sentence
        "Moreover, this project",  # line 16, later
        "This 9.3 million euro",  # line 17
        "As evaluated by external experts",  # line 17, later
    ]
    positions = [text.index(opening) for opening in openings]
    assert positions == sorted(positions)
    end = row_of(ntf, "end date")
    assert 'title="xsd:date">2012-03-31<' in end and "xsd:date" not in visible_text(end)
    assert "xsd:decimal" not in visible_text(ntf)


def test_an_excerpt_page_is_named_by_its_line(client: FlaskClient) -> None:
    excerpt = page(client, LINE + "15")
    assert "<h1>IOM Serbia page, line 15</h1>" in excerpt


# 2. VoID for browsers -----------------------------------------------------------------------


def test_void_gives_browsers_a_page_and_rdf_clients_rdf(client: FlaskClient) -> None:
    for accept in (BROWSER, "text/html"):
        response = client.get("/.well-known/void", headers={"Accept": accept})
        assert response.status_code == 200 and response.mimetype == "text/html", accept
        assert "VoID description" in response.text and "_:" not in visible_text(response.text)
    turtle = client.get("/.well-known/void")
    assert turtle.mimetype == "text/turtle"
    graph = rdflib.Graph().parse(data=turtle.data, format="turtle")
    assert (None, rdflib.URIRef(VOID + "triples"), None) in graph
    xml = client.get("/.well-known/void", headers={"Accept": "application/rdf+xml"})
    assert xml.mimetype == "application/rdf+xml"
    assert client.get("/.well-known/void?format=xml").mimetype == "application/rdf+xml"


def test_application_xml_no_longer_means_rdf_xml(client: FlaskClient) -> None:
    """A browser's application/xml;q=0.9 must not turn a data URL into RDF/XML."""
    plain_xml = client.get("/id/country/NO", headers={"Accept": "application/xml"})
    assert plain_xml.status_code == 406
    resource = client.get("/id/country/NO", headers={"Accept": "application/xml,*/*;q=0.8"})
    assert resource.mimetype == "text/turtle"


# 3. Saved queries offered as examples -------------------------------------------------------


def example_item(markup: str, title: str) -> str:
    """The ``<li>`` of the saved query called ``title`` in the examples list."""
    listing = markup.split('<ul class="examples">', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", listing, re.S)
    found = [str(item) for item in items if visible_text(item).strip().startswith(title)]
    assert len(found) == 1, (title, items)
    return found[0]


@pytest.mark.parametrize("path", ["/", "/sparql"])
def test_examples_that_need_a_value_link_to_their_example_not_the_editor(
    client: FlaskClient, path: str
) -> None:
    markup = page(client, path)
    donors = example_item(markup, "Donors of a programme or activity")
    assert "/sparql?" not in donors  # the editor would leave $programme free: 0 rows
    assert 'href="/api/queries/list-donors?programme=id:project/ntf"' in donors
    assert '#list-donors"' in donors  # its documentation
    federated = example_item(markup, "Donor countries enriched from Wikidata (federated)")
    assert "needs SERVICE allow-list" in federated and 'href="/api/queries/' not in federated
    timeline = example_item(markup, "Timeline of programmes")  # no parameters: editor answers
    assert "/sparql?query=" in timeline


def test_every_editor_link_answers_rows(client: FlaskClient) -> None:
    home = page(client, "/")
    links = [html.unescape(href) for href in re.findall(r'href="(/sparql\?query=[^"]+)"', home)]
    assert len(links) >= 5
    for link in links:
        ran = page(client, link)
        assert "The query failed" not in ran, link


def test_an_allow_listed_federated_query_is_offered(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    settings = Settings(
        store_dir=tmp_path / "none", service_allowlist=("https://query.wikidata.org/sparql",)
    )
    app = create_app(settings, seed_store, dumps_dir=tmp_path / "no")
    home = page(app.test_client(), "/")
    federated = example_item(home, "Donor countries enriched from Wikidata (federated)")
    assert "needs SERVICE allow-list" not in federated
    assert 'href="/api/queries/enrich-donor-countries"' in federated


# 5. RDF output ------------------------------------------------------------------------------


def test_turtle_writes_iris_in_full_and_declares_only_used_prefixes(client: FlaskClient) -> None:
    turtle = client.get("/id/funding/ntf-CZ", headers={"Accept": "text/turtle"}).text
    assert "\\/" not in turtle and "@prefix id:" not in turtle and "@prefix graph:" not in turtle
    assert f"<{BASE}id/funding/ntf-CZ>" in turtle
    declared = re.findall(r"@prefix (\w+): ", turtle)
    body = turtle.split("\n", len(declared))[-1]
    assert declared and all(f"{name}:" in body for name in declared), declared
    assert "@prefix owl:" not in turtle  # a funding says nothing with owl:
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    assert (rdflib.URIRef(BASE + "id/funding/ntf-CZ"), None, None) in graph


def test_resource_rdf_includes_nested_blank_nodes_once(client: FlaskClient) -> None:
    turtle = client.get("/id/membership/iom-AL", headers={"Accept": "text/turtle"}).data
    triples = list(ox.parse(turtle, ox.RdfFormat.TURTLE))
    years = [t.object for t in triples if t.predicate.value.endswith("#inXSDgYear")]
    assert [year.value for year in years] == ["1993"]  # an instant two blank nodes down
    assert len(triples) == len(set(triples))


def test_jsonld_of_a_resource_has_a_context(client: FlaskClient) -> None:
    response = client.get("/id/project/ntf", headers={"Accept": "application/ld+json"})
    assert response.mimetype == "application/ld+json"
    document = json.loads(response.data)
    context = document["@context"]
    assert context["schema"] == "https://schema.org/" and "id" not in context
    assert any(key.startswith("schema:") for node in document["@graph"] for key in node)
    turtle = client.get("/id/project/ntf", headers={"Accept": "text/turtle"}).data
    assert isomorphic(
        rdflib.Graph().parse(data=response.data, format="json-ld"),
        rdflib.Graph().parse(data=turtle, format="turtle"),
    )


def test_descriptions_declare_the_sd_prefix(client: FlaskClient) -> None:
    described = client.get("/sparql", headers={"Accept": "text/turtle"}).text
    assert "@prefix sd: <http://www.w3.org/ns/sparql-service-description#> ." in described
    assert "<http://www.w3.org/ns/sparql-service-description#" not in described.split(" .\n", 1)[1]


# 6. Sizes on the home page ------------------------------------------------------------------


def test_home_page_counts_statements_and_distinct_triples_as_void_does(
    client: FlaskClient, seed_store: OxigraphStore
) -> None:
    sizes = descriptions.dataset_sizes(seed_store)
    assert sizes.statements > sizes.distinct_triples  # some triples are stated in two graphs
    text = visible_text(page(client, "/"))
    assert (
        f"{sizes.statements} statements in {sizes.graphs} named graphs "
        f"( {sizes.distinct_triples} distinct triples in their union" in text
    )
    void = rdflib.Graph().parse(data=client.get("/.well-known/void").data, format="turtle")
    dataset = rdflib.URIRef(BASE + "id/dataset/iomkg")
    triples = void.value(dataset, rdflib.URIRef(VOID + "triples"))
    assert isinstance(triples, rdflib.Literal) and int(triples) == sizes.distinct_triples


# 7. Small things ----------------------------------------------------------------------------


def test_favicon(client: FlaskClient) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        icon = client.get(path)
        try:  # send_file holds the file open until the response is closed
            assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
            assert icon.get_data().lstrip().startswith(b"<svg")
        finally:
            icon.close()
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in page(client, "/")


def test_download_links_name_their_file(client: FlaskClient) -> None:
    ran = page(client, "/sparql?query=SELECT+%3Fs+WHERE+%7B+%3Fs+%3Fp+%3Fo+%7D+LIMIT+1")
    for name in ("json", "xml", "csv", "tsv"):
        assert f'download="result.{name}"' in ran
    graph = page(client, "/sparql?query=CONSTRUCT+WHERE+%7B+%3Fs+%3Fp+%3Fo+%7D+LIMIT+1")
    assert 'download="result.ttl"' in graph and 'download="result.rdf"' in graph
    saved = page(client, "/api/queries/list-donors?programme=id:project/ntf")
    assert 'download="list-donors.csv"' in saved


def test_names_for_the_graph_view_are_the_pages_names(client: FlaskClient) -> None:
    base = "https://w3id.org/iomkg/"
    iris = [
        base + "id/country/NO",
        base + "id/source/000_aa2112c34e1aacb8/line/15",
        base + "graph/sources/000_aa2112c34e1aacb8",
        base + "id/nothing/here",
        "not an IRI",
    ]
    response = client.post("/sparql/names", data={"iri": iris})
    assert response.status_code == 200
    assert response.json == {
        base + "id/country/NO": "Norway",
        base + "id/source/000_aa2112c34e1aacb8/line/15": "IOM Serbia page, line 15",
        base + "graph/sources/000_aa2112c34e1aacb8": "IOM Serbia page",
    }


def test_a_saved_query_page_shows_its_example_as_an_example(client: FlaskClient) -> None:
    """With no value given the page answers for the example value, and says so: the field is
    empty with the example as its placeholder, not filled in as if someone had typed it."""
    shown = page(client, "/api/queries/list-donors?format=html")
    field = re.search(r'<input id="param-programme"[^>]*>', shown)
    assert field is not None
    assert 'value=""' in field.group(0) and 'placeholder="for example id:' in field.group(0)
    assert "No value given: the answer below is the example" in shown
    typed = page(client, "/api/queries/list-donors?programme=id:project/ntf&format=html")
    field = re.search(r'<input id="param-programme"[^>]*>', typed)
    assert field is not None and 'value="id:project/ntf"' in field.group(0)
    assert "No value given" not in typed


def test_a_link_set_with_nothing_to_link_says_so() -> None:
    """0 of 0 is no 100 %: the home page's coverage row says there is nothing to link."""
    template = (Path(__file__).parents[2] / "server/iomkg/web/templates/home.html").read_text()
    assert "none to link: the graph holds no" in template
