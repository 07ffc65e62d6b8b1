"""Pages for people: the home page (with its dashboards), the query page (the HTML face of
``/sparql``) and the search page.

Everything is served from this server (templates, the stylesheet, the scripts of ``static/``
and the npm packages of :mod:`iomkg.web.assets`): no CDN, no script from elsewhere, so the
pages work offline and leak nothing about their visitors. Without the npm packages the pages
are plain HTML forms that say what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request, url_for

from iomkg import catalog, descriptions, dumps, formats, linking, search
from iomkg.serving.endpoint import failure
from iomkg.views import ResultTable, result_table
from iomkg.vocab import prefixes
from iomkg.web import api  # api imports sparql, which imports this module: use api.… late
from iomkg.web.common import html_response, web
from iomkg.web.ops import timing

blueprint = Blueprint("pages", __name__)

DEFAULT_QUERY = """\
# Who funded the NTF project, and in which role?
# Relative IRIs such as <id/project/ntf> resolve against the graph's base namespace.
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX iomo: <ontology#>

SELECT ?donor ?name ?role WHERE {
  ?funding schema:fundedItem <id/project/ntf> ;
           schema:funder ?donor ;
           iomo:donorRole ?r .
  ?donor skos:prefLabel ?name .
  ?r skos:prefLabel ?role .
  FILTER(lang(?name) = "en")
}
ORDER BY ?role ?name
"""

#: Resources worth a first click, relative to the base namespace.
SAMPLE_RESOURCES = (
    ("id/project/ntf", "The NATO/PfP Trust Fund (NTF) project in Serbia"),
    ("id/country/NO", "Norway, lead nation of the NTF project"),
    ("id/organisation/iom", "The International Organization for Migration"),
)


@dataclass(frozen=True)
class Dashboard:
    """One of the home page's dashboards: a parameterless saved query (or one whose parameters
    all have defaults) and how to draw its answer (``static/home.js`` fetches
    ``/api/queries/NAME`` and draws it; its title and description are the query's own).
    ``label`` names the column(s) that label a bar, a map's country or a list item; ``values``
    the numeric columns drawn; ``axis`` the title of the value axis; ``unit`` a column holding
    the values' unit (a currency), said on the axis and in the series' names; ``group`` the
    column a list groups items under; ``note`` the column a list groups each group's items by
    (a donor's role); ``iati`` a column counting IATI activities, whose total of 0 is said in
    words; ``empty`` what the dashboard says when the query has no row in this build;
    ``headings`` the columns of the table of figures below a chart, in order, with their
    headings; ``top`` how many rows the chart and its table show (the largest first, as the
    query orders them), the rest a link away. ``points``: another saved query whose WKT points
    (and their names: ``points_label``) a map draws over its countries, when that query is in
    the catalogue and answers.
    """

    name: str
    kind: str  # "bar", "line", "pie", "map" or "list"
    label: tuple[str, ...]
    values: tuple[str, ...] = ()
    headings: tuple[tuple[str, str], ...] = ()
    axis: str | None = None
    unit: str | None = None
    split: str | None = None
    years: bool = False
    group: str | None = None
    note: str | None = None
    iati: str | None = None
    empty: str = "Nothing to show: the saved query has no answer in this build."
    top: int | None = None
    points: str | None = None
    points_label: str | None = None


NO_IATI = (
    "No IATI activities imported: these are the projects and activities of the source pages "
    "(iomkg import iati FILE adds IOM's IATI activities)."
)

DASHBOARDS = (
    Dashboard(
        "sum-iati-funder-commitments",
        "bar",
        label=("funderLabel", "funder"),
        values=("committed",),
        axis="committed to IOM",
        unit="currency",
        split="currency",
        headings=(
            ("funder", "funder"),
            ("currency", "currency"),
            ("committed", "committed"),
            ("activities", "IATI activities"),
        ),
        empty=(
            "No commitments to show: the source pages state no amount per donor, and no IATI "
            "activities are imported (iomkg import iati FILE adds IOM's IATI activities, whose "
            "incoming commitments this sums)."
        ),
        top=10,
    ),
    Dashboard(
        "show-activities-per-year",
        "bar",
        label=("year",),
        years=True,
        values=("activities", "iatiActivities"),
        axis="projects and activities starting",
        headings=(
            ("year", "start year"),
            ("activities", "projects and activities"),
            ("iatiActivities", "of them IATI activities"),
        ),
        iati="iatiActivities",
        empty="No project or activity with a stated start. " + NO_IATI,
    ),
    Dashboard(
        "show-activities-per-country",
        "map",
        label=("country",),
        values=("activities",),
        headings=(
            ("country", "country"),
            ("activities", "projects and activities"),
            ("iatiActivities", "of them IATI activities"),
        ),
        iati="iatiActivities",
        empty="No project or activity with a stated country. " + NO_IATI,
        top=10,
        points="list-iati-locations",
        points_label="locationName",
    ),
    Dashboard(
        "list-programme-donors",
        "list",
        label=("donor",),
        group="programme",
        note="roleLabel",
        empty="No programme with a stated donor in this build.",
    ),
)


def dashboards_config(saved: catalog.Catalog) -> list[dict[str, object]]:
    """The dashboards whose saved query is in the catalogue, as the page and its script use them
    (a query missing from ``queries/`` leaves its dashboard out rather than breaking the page)."""
    boards: list[dict[str, object]] = []
    for board in DASHBOARDS:
        query = saved.get(board.name)
        if query is None:
            continue
        points = saved.get(board.points) if board.points else None
        boards.append(
            {
                "name": board.name,
                "title": query.title,
                "description": query.description,
                "kind": board.kind,
                "label": list(board.label),
                "values": list(board.values),
                "axis": board.axis,
                "unit": board.unit,
                "top": board.top,
                "columns": [column for column, _ in board.headings],
                "headings": dict(board.headings),
                "split": board.split,
                "years": board.years,
                "group": board.group,
                "note": board.note,
                "iati": board.iati,
                "empty": board.empty,
                "no_iati": NO_IATI,
                "url": api.run_url(board.name, {}),
                "editor_url": api.editor_url(query, defaults=True),
                "points": None
                if points is None
                else {
                    "name": points.name,
                    "title": points.title,
                    "label": board.points_label,
                    "url": api.run_url(points.name, {}),
                },
            }
        )
    return boards


@blueprint.route("/")
def home() -> Response:
    context = web()
    settings = context.settings
    try:
        boards = dashboards_config(api.saved_queries())
    except catalog.CatalogError:
        current_app.logger.exception("the saved-query catalogue does not load")
        boards = []
    return html_response(
        "home.html",
        dashboards=boards,
        dashboards_config={
            "base": settings.base_iri,
            "prefixes": prefixes(settings.base_iri),
            "dashboards": boards,
        },
        sizes=context.statistics.get("sizes", lambda: descriptions.dataset_sizes(context.store)),
        metadata=context.statistics.get(
            "metadata",
            lambda: descriptions.dataset_metadata_view(context.store, settings.base_iri),
        ),
        dumps=dumps.list_dumps(context.dumps_dir),
        samples=[
            (context.links.local_path(settings.base_iri + path), label)
            for path, label in SAMPLE_RESOURCES
        ],
        settings=settings,
        links=context.links,
        coverage=context.statistics.get(
            "coverage", lambda: linking.coverage_table(context.store, settings.base_iri)
        ),
    )


@blueprint.route("/search", endpoint="search")
def search_page() -> Response:
    """Resources by name or code (the saved query ``search-labels``), each a link to its page."""
    context = web()
    text = request.args.get("q", "").strip()
    hits: list[search.Hit] = []
    error: str | None = None
    status = 200
    if text:
        started = time.perf_counter()
        try:
            query = search.search_request(context.settings, text, api.saved_queries())
            answer = context.executor.run_query(query, timeout=context.settings.query_timeout)
            body = b"".join(answer.chunks)
            hits = search.read_hits(
                result_table(answer.kind, answer.format, body, context.links, search.MAX_HITS)
            )
        except catalog.ParameterError as problem:
            error, status = str(problem), 400
        except Exception as problem:
            status, error, _headers = failure(problem)
        finally:
            timing().query += time.perf_counter() - started
    return html_response(
        "search.html", status=status, search_text=text, hits=hits, error=error, text=text
    )


@blueprint.route("/favicon.ico")
def favicon() -> Response:
    """The site icon where browsers look for it by default (an SVG, as ``base.html`` links it)."""
    return current_app.send_static_file("favicon.svg")


def query_page(
    sparql: str,
    *,
    table: ResultTable | None = None,
    downloads: Sequence[tuple[str, str, str]] = (),
    error: str | None = None,
    status: int = 200,
    truncated_at: int | None = None,
    html_rows: int = 0,
) -> Response:
    """The editor (a textarea, prefilled) and, once a query ran, its answer as a table."""
    settings = web().settings
    return html_response(
        "query.html",
        status=status,
        sparql=sparql,
        table=table,
        downloads=downloads,
        error=error,
        truncated_at=truncated_at,
        html_rows=html_rows,
        settings=settings,
        endpoint=url_for("sparql.endpoint"),
        config=editor_config(sparql != DEFAULT_QUERY),
        link=_link_to(sparql) if table is not None else None,
    )


def _link_to(sparql: str) -> str | None:
    """A GET link that reopens the query, when it fits in a URL (the script links any length)."""
    link = url_for("sparql.endpoint", query=sparql)
    return link if len(link) <= 2000 else None


def editor_config(query_given: bool) -> dict[str, object]:
    """What the query page's script needs to know (a JSON data island in the page)."""
    settings = web().settings
    return {
        "endpoint": url_for("sparql.endpoint"),
        "check_url": url_for("editor.check"),
        "terms_url": url_for("editor.terms"),
        "names_url": url_for("editor.names"),
        "base": settings.base_iri,
        "prefixes": prefixes(settings.base_iri),
        "max_rows": settings.max_rows,
        "query_given": query_given,
        "formats": {
            kind: [
                {
                    "name": fmt.name,
                    "label": FORMAT_LABELS.get((kind, fmt.name), fmt.name),
                    "media_type": fmt.media_type,
                    "filename": fmt.download_name(),
                }
                for fmt in table
            ]
            for kind, table in formats.TABLES.items()
        },
    }


#: How the download buttons name the formats.
FORMAT_LABELS = {
    ("results", "json"): "JSON",
    ("results", "xml"): "XML",
    ("results", "csv"): "CSV",
    ("results", "tsv"): "TSV",
    ("graph", "ttl"): "Turtle",
    ("graph", "jsonld"): "JSON-LD",
    ("graph", "nt"): "N-Triples",
    ("graph", "xml"): "RDF/XML",
    ("graph", "nq"): "N-Quads",
    ("graph", "trig"): "TriG",
}
