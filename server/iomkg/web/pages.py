"""Pages for people: the home page and the query page (the HTML face of ``/sparql``).

Everything is served from this server (templates and one stylesheet): no CDN, no script from
elsewhere, so the pages work offline and leak nothing about their visitors.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, Response, current_app, url_for

from iomkg import descriptions, dumps, linking
from iomkg.views import ResultTable
from iomkg.web.common import html_response, web

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


@blueprint.route("/")
def home() -> Response:
    context = web()
    settings = context.settings
    return html_response(
        "home.html",
        sizes=context.statistics.get("sizes", lambda: descriptions.dataset_sizes(context.store)),
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
    )
