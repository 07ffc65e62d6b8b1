"""The linker against a real SPARQL server on 127.0.0.1: candidates, review, accept, failures."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from pyoxigraph import QuerySolutions
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, ORG, OWL, PROV, RDF, RDFS, SKOS, TIME, XSD

from iomkg import linking, memberstates, pipeline
from iomkg.config import DEFAULT_BASE_IRI as BASE
from iomkg.config import Settings
from tests.conftest import requires_shared
from tests.servers import free_port

from .conftest import (
    Endpoint,
    LinkedProject,
    concerns_links,
    data_store,
    decide,
    run,
)

WIKIDATA = linking.TARGETS["wikidata"]
TODAY = date(2025, 1, 31)
FAST = linking.Pacing(interval=0, retries=1, backoff=0.01, timeout=5)


def search(settings: Settings, endpoint: Endpoint, **options: object) -> linking.SearchResult:
    client = linking.SparqlClient(endpoint.url, pacing=FAST)
    return linking.find_candidates(
        data_store(settings),
        client,
        target=WIKIDATA,
        base_iri=BASE,
        today=TODAY,
        **options,  # type: ignore[arg-type]
    )


def found(result: linking.SearchResult) -> dict[tuple[str, str], linking.Candidate]:
    return {(c.subject.removeprefix(BASE), WIKIDATA.short(c.object)): c for c in result.candidates}


def digest(folder: Path) -> str:
    """One hash of every file below ``folder``: proves that nothing was written."""
    total = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            total.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return total.hexdigest()


# Candidates ------------------------------------------------------------------------------------


def test_candidates_and_their_evidence(project: Settings, wikidata: Endpoint) -> None:
    result = search(project, wikidata)
    rows = found(result)
    assert set(rows) == {
        ("id/country/SG", "Q990001"),
        ("id/organisation/pfp", "Q990002"),
        ("id/organisation/bamf", "Q990003"),
        ("id/organisation/iom-development-fund", "Q990006"),
        ("id/organisation/iom-development-fund", "Q990007"),
        ("id/organisation/un-system", "Q1065"),
    }
    singapore = rows[("id/country/SG", "Q990001")]
    expected_match = ("iso3166-alpha2", "P297", '"SG"')
    assert (singapore.method, singapore.matched, singapore.value) == expected_match
    assert singapore.object_label == "Singapore" and singapore.object_types == "Q990100"
    p297 = "<http://www.wikidata.org/prop/direct/P297>"
    assert singapore.query == f'SELECT ?item WHERE {{ ?item {p297} "SG" }}'
    assert singapore.endpoint == wikidata.url and singapore.found == "2025-01-31"
    assert singapore.note == ""
    pfp = rows[("id/organisation/pfp", "Q990002")]
    expected = ("exact-label", "rdfs:label", '"Partnership for Peace"@en')
    assert (pfp.method, pfp.matched, pfp.value) == expected
    assert rows[("id/organisation/bamf", "Q990003")].method == "exact-label"  # once, not per name
    assert "ambiguous" in rows[("id/organisation/iom-development-fund", "Q990006")].note
    assert "conflict" in rows[("id/organisation/un-system", "Q1065")].note
    assert result.skipped and "IATI" in result.skipped[0]  # no verified property: no IATI match


def test_nothing_already_linked_is_searched_again(project: Settings, wikidata: Endpoint) -> None:
    result = search(project, wikidata)
    searched = {entity.iri.removeprefix(BASE) for entity in result.searched}
    assert "id/country/NO" not in searched and "id/organisation/iom" not in searched
    assert {"id/country/SG", "id/organisation/pfp", "id/organisation/bamf"} <= searched
    assert not any(c.object.endswith("/Q990004") for c in result.candidates)  # Norway's decoy


def test_iati_identifier_match_when_a_property_is_given(
    project: Settings, wikidata: Endpoint
) -> None:
    rows = found(search(project, wikidata, iati_property="P99999999"))
    swiss = rows[("id/organisation/ch-sdc", "Q990005")]
    expected = ("iati-organisation-id", "P99999999", '"CH-4"')
    assert (swiss.method, swiss.matched, swiss.value) == expected


def test_review_file_round_trip_keeps_decisions(
    project: Settings, wikidata: Endpoint, tmp_path: Path
) -> None:
    result = search(project, wikidata)
    review = tmp_path / "review.csv"
    review.write_text(linking.render_review(result.candidates), encoding="utf-8")
    assert review.read_text(encoding="utf-8").splitlines()[0] == ",".join(linking.REVIEW_COLUMNS)
    decide(
        review,
        {("id/country/SG", "Q990001"): "accept", ("id/organisation/pfp", "Q990002"): "reject"},
    )
    again = linking.render_review(result.candidates, linking.read_review(review))
    assert again == review.read_text(encoding="utf-8")
    assert [r.decision for r in linking.read_review(review) if r.decision] == ["accept", "reject"]


def test_a_review_file_with_an_unknown_decision_names_the_line(tmp_path: Path) -> None:
    review = tmp_path / "review.csv"
    header = ",".join(linking.REVIEW_COLUMNS)
    review.write_text(header + "\nmaybe" + "," * 13 + "\n", encoding="utf-8")
    with pytest.raises(linking.ReviewFileError, match=r"review.csv:2: decision 'maybe'"):
        linking.read_review(review)


# Accepting -------------------------------------------------------------------------------------


def test_the_review_cycle_links_and_records_provenance(linked_project: LinkedProject) -> None:
    assert "found 8 candidate(s) for 7 entities" in linked_project.search.output
    assert "merged 4 link(s) and 1 IOM membership(s)" in linked_project.accept.output
    accepted = linked_project.settings.data_dir / "links" / "wikidata" / "accepted.ttl"
    graph = Graph().parse(accepted, format="turtle", publicID=BASE)
    links = {(str(s).removeprefix(BASE), str(o)) for s, o in graph.subject_objects(OWL.sameAs)}
    assert links == {
        ("id/country/SG", "http://www.wikidata.org/entity/Q990001"),
        ("id/organisation/pfp", "http://www.wikidata.org/entity/Q990002"),
        ("id/organisation/bamf", "http://www.wikidata.org/entity/Q990003"),
        ("id/organisation/ch-sdc", "http://www.wikidata.org/entity/Q990005"),
        ("id/country/CN", "http://www.wikidata.org/entity/Q148"),  # with its membership
    }
    record = URIRef(BASE + "id/linkset/wikidata/link/country/SG")
    assert (record, RDF.type, RDF.Statement) in graph
    assert graph.value(record, RDF.subject) == URIRef(BASE + "id/country/SG")
    assert str(graph.value(record, DCTERMS.source)).startswith("http://127.0.0.1:")
    for when in (DCTERMS.created, DCTERMS.dateAccepted):  # found, accepted: the day of the run
        assert graph.value(record, when) == Literal(date.today().isoformat(), datatype=XSD.date)
    comment = str(graph.value(record, URIRef("http://www.w3.org/2000/01/rdf-schema#comment")))
    assert 'P297 "SG"' in comment and "SELECT ?item" in comment
    method = URIRef(BASE + "ontology#linkMethod")
    assert str(graph.value(record, method)).startswith("identifier match on ISO 3166-1")
    linkset_methods = {str(m) for m in graph.objects(URIRef(BASE + "id/linkset/wikidata"), method)}
    assert "exact label match, reviewed" in linkset_methods


@requires_shared  # country-coder's data name the states the memberships add
def test_iom_memberships_the_graph_lacks_are_proposed_with_their_evidence(
    project: Settings, wikidata: Endpoint
) -> None:
    coder = memberstates.country_coder(project.shared_root)
    result = search(project, wikidata, country_coder=coder)
    joining = {c.subject.removeprefix(BASE): c for c in result.candidates if c.kind == "membership"}
    assert set(joining) == {"id/country/CN"}  # Serbia is a member already; deprecated ignored
    china = joining["id/country/CN"]
    assert (china.object, china.value, china.matched) == (
        WIKIDATA.namespace + "Q148",
        "2016/",
        "P463",
    )
    assert china.method == linking.MEMBERSHIP_METHOD and china.endpoint == wikidata.url
    assert "not in the graph yet" in china.note and "Q472311" in china.query
    assert any("Q990011" in reason and "no ISO 3166-1" in reason for reason in result.skipped)


def test_an_accepted_membership_becomes_a_membership_with_its_provenance(
    linked_project: LinkedProject,
) -> None:
    accepted = linked_project.settings.data_dir / "links" / "wikidata" / "accepted.ttl"
    graph = Graph().parse(accepted, format="turtle", publicID=BASE)
    membership = URIRef(BASE + "id/membership/iom-CN")
    china = URIRef(BASE + "id/country/CN")
    assert (membership, ORG.member, china) in graph
    assert graph.value(membership, ORG.organization) == URIRef(BASE + "id/organisation/iom")
    assert graph.value(membership, DCTERMS.source) == URIRef(BASE + "id/dataset/wikidata")
    assert str(graph.value(membership, PROV.wasDerivedFrom)).startswith("http://127.0.0.1:")
    years = {
        str(year)
        for interval in graph.objects(membership, ORG.memberDuring)
        for instant in graph.objects(interval, TIME.hasBeginning)
        for year in graph.objects(instant, TIME.inXSDgYear)
    }
    assert years == {"2016"}
    comment = str(graph.value(membership, RDFS.comment))
    assert "P463 Q472311" in comment and "2016/" in comment
    # The state it adds: ISO codes and name from country-coder, the link from the review.
    assert str(graph.value(china, SKOS.notation)) == "CN"
    assert str(graph.value(china, URIRef(BASE + "ontology#iso3166Alpha3"))) == "CHN"
    assert str(graph.value(china, SKOS.prefLabel)) == "People's Republic of China"
    assert graph.value(china, OWL.sameAs) == URIRef(WIKIDATA.namespace + "Q148")


def test_the_member_count_names_the_accepted_source(linked_project: LinkedProject) -> None:
    store = data_store(linked_project.settings)
    rows = store.query(memberstates.LISTED_PER_SOURCE, base_iri=BASE)
    assert isinstance(rows, QuerySolutions)
    counts = {row["source"].value.removeprefix(BASE): int(row["n"].value) for row in rows}
    assert counts == {"id/dataset/cow-igo-v3": 155, "id/dataset/wikidata": 1}


def test_the_accepted_links_pass_shacl_and_the_checks(linked_project: LinkedProject) -> None:
    """No SHACL violation and no failed quality check concerns a link, a record or a link set."""
    about_links = [v.describe() for v in linked_project.violations if concerns_links(v)]
    assert about_links == []
    assert [f.describe() for f in linked_project.check_failures] == []


def test_the_accepted_links_pass_the_build(linked_project: LinkedProject) -> None:
    """The whole build, when the rest of the test project's data conforms too."""
    if linked_project.outside:
        pytest.xfail(
            f"{len(linked_project.outside)} violation(s) outside the link sets block the build, "
            f"e.g. {linked_project.outside[0].describe()}"
        )
    summary = pipeline.build(linked_project.settings)
    assert summary.links_per_target == {"geonames": 156, "wikidata": 166}


def test_accepting_twice_changes_nothing(linked_project: LinkedProject) -> None:
    before = digest(linked_project.settings.data_dir)
    again = run(linked_project.settings, "link", "--accept", str(linked_project.review))
    assert again.exit_code == 0, again.stderr
    assert "nothing to merge" in again.output and "5 accepted row(s) already" in again.output
    assert digest(linked_project.settings.data_dir) == before


def test_searching_again_proposes_nothing_already_linked(
    linked_project: LinkedProject, wikidata: Endpoint
) -> None:
    rows = found(search(linked_project.settings, wikidata, iati_property="P99999999"))
    subjects = {subject for subject, _ in rows}
    assert subjects == {"id/organisation/iom-development-fund", "id/organisation/un-system"}


def test_conflicting_rows_are_refused_and_nothing_is_written(
    project: Settings, wikidata: Endpoint
) -> None:
    review = project.data_dir / "links" / "wikidata" / "candidates.csv"
    review.write_text(linking.render_review(search(project, wikidata).candidates), encoding="utf-8")
    decide(
        review,
        {
            ("id/organisation/un-system", "Q1065"): "accept",  # already the UN's item
            ("id/organisation/iom-development-fund", "Q990006"): "accept",  # two items, one subject
            ("id/organisation/iom-development-fund", "Q990007"): "accept",
            ("id/country/SG", "Q990001"): "accept",
        },
    )
    before = digest(project.data_dir)
    result = run(project, "link", "--accept", str(review))
    assert result.exit_code == 1
    assert "already the link of https://w3id.org/iomkg/id/organisation/un" in result.stderr
    assert "also accepted" in result.stderr
    assert result.stderr.splitlines()[-1].endswith("cannot be merged; nothing was written")
    assert digest(project.data_dir) == before


def test_an_object_outside_the_target_is_refused(project: Settings) -> None:
    row = linking.Candidate(
        BASE + "id/organisation/pfp", "PfP", "organisation", "https://www.wikidata.org/wiki/Q1",
        "", "", "exact-label", "rdfs:label", '"x"', "", "http://127.0.0.1/", "2025-01-01",
        decision="accept",
    )  # fmt: skip
    with pytest.raises(linking.ReviewRejected) as refused:
        linking.merge_accepted(
            [row], data_store(project), target=WIKIDATA, data_dir=project.data_dir,
            base_iri=BASE, today=TODAY,
        )  # fmt: skip
    assert "not a Wikidata IRI" in refused.value.problems[0]


# Failures: unreachable, rate-limited, pacing ----------------------------------------------------


def test_an_unreachable_endpoint_changes_nothing(project: Settings) -> None:
    before = digest(project.project_dir)
    dead = f"http://127.0.0.1:{free_port()}/query"
    started = time.monotonic()
    # Default pacing (4 retries with backoff): a refused connection is not retried.
    result = run(project, "link", "--endpoint", dead)
    assert time.monotonic() - started < 5
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"iomkg: cannot reach the SPARQL endpoint {dead}")
    assert "nothing was changed" in result.stderr
    assert digest(project.project_dir) == before


OK = {"x": {"type": "literal", "value": "ok"}}


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers HTTP ``statuses`` in turn (429 with Retry-After, 503, …), then SPARQL JSON."""

    statuses: ClassVar[list[int]] = []
    agents: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).agents.append(self.headers.get("User-Agent", ""))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        if status == 0:  # hang up without an answer, as a reset connection does
            self.close_connection = True
            return
        answer = {"head": {"vars": ["x"]}, "results": {"bindings": [OK]}}
        body = b"busy" if status != 200 else json.dumps(answer).encode()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "7")
        self.send_header(
            "Content-Type", "application/sparql-results+json" if status == 200 else "text/plain"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Stub", (_Stub,), {"statuses": [], "agents": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql", handler
    server.shutdown()
    server.server_close()


def test_429_and_5xx_are_retried_with_backoff(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.statuses = [429, 503, 502]
    waits: list[float] = []
    client = linking.SparqlClient(
        url, pacing=linking.Pacing(interval=0, retries=3, backoff=0.5), sleep=waits.append
    )
    assert client.select("SELECT * WHERE { ?s ?p ?o }") == [OK]
    assert waits == [7.0, 1.0, 2.0]  # Retry-After honoured, then 0.5 × 2^attempt
    assert len(handler.agents) == 4
    assert all(a.startswith("iomkg-linker/") and "SPARQLWrapper" in a for a in handler.agents)


def test_a_dropped_connection_is_retried_then_answered(stub: tuple[str, type[_Stub]]) -> None:
    """A real server on 127.0.0.1 that hangs up twice, then answers: retried (tenacity), with
    the backoff, and the answer returned."""
    url, handler = stub
    handler.statuses = [0, 0]
    waits: list[float] = []
    client = linking.SparqlClient(
        url, pacing=linking.Pacing(interval=0, retries=2, backoff=0.25), sleep=waits.append
    )
    assert client.select("SELECT * WHERE { ?s ?p ?o }") == [OK]
    assert waits == [0.25, 0.5] and len(handler.agents) == 3


def test_an_endpoint_that_keeps_failing_stops_with_one_line(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.statuses = [503] * 5
    client = linking.SparqlClient(url, pacing=FAST, sleep=lambda _: None)
    with pytest.raises(linking.EndpointUnreachable, match=r"answered HTTP 503 .* 2 time\(s\)"):
        client.select("SELECT * WHERE { ?s ?p ?o }")


def test_requests_are_paced(stub: tuple[str, type[_Stub]]) -> None:
    url, _handler = stub
    waits: list[float] = []
    clock = iter([0.0, 0.0, 0.2, 0.2, 5.0, 5.0]).__next__
    client = linking.SparqlClient(
        url, pacing=linking.Pacing(interval=1.0), sleep=waits.append, clock=clock
    )
    for _ in range(3):
        client.select("ASK {}")
    assert waits == [pytest.approx(0.8)]  # the 2nd came 0.2 s after the 1st; the 3rd late enough
