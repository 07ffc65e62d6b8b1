"""Linked data: every IRI under the base namespace dereferences here.

``/id/…`` is ``settings.base_iri + "id/…"``, ``/ontology`` (and its version IRIs) the ontology,
``/graph/…`` a named graph — whatever the base is, so a build with another base still resolves
its own IRIs on this server. Browsers get HTML; RDF clients get Turtle, JSON-LD, N-Triples,
RDF/XML, or (with the graph each statement is in) N-Quads and TriG, by ``Accept`` or ``format=``,
as an attachment named after the resource (``country-NO.ttl``).
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, request, url_for

from iomkg import formats, memberships, resources
from iomkg.formats import Format
from iomkg.vocab import output_prefixes
from iomkg.web.common import (
    error_response,
    html_response,
    negotiate_rdf,
    not_acceptable,
    rdf_response,
    web,
)

blueprint = Blueprint("resources", __name__)


@blueprint.route("/id/<path:rest>")
def resource(rest: str) -> Response:
    context = web()
    iri = context.settings.base_iri + "id/" + rest
    fmt, html = negotiate_rdf(formats.PAGE_FORMATS)
    if html:
        view = resources.describe_resource(context.store, iri, context.links)
        if view is None:
            return _not_found(iri)
        return html_response(
            "resource.html",
            view=view,
            neighbours=resources.neighbour_graph(view),
            links=context.links,
            alternates=_alternates(),
            memberships=memberships.memberships_of(context.store, iri, context.links),
        )
    if fmt is None:
        return not_acceptable(formats.PAGE_FORMATS)
    if not resources.resource_exists(context.store, iri):
        return _not_found(iri)
    if fmt in formats.QUAD_FORMATS:
        quads = resources.resource_quads(context.store, iri)
        return _attachment(_quads_response(quads, fmt), "id/" + rest, fmt)
    response = rdf_response(
        resources.resource_rdf(context.store, iri), fmt, context.settings.base_iri
    )
    return _attachment(response, "id/" + rest, fmt)


@blueprint.route("/ontology")
@blueprint.route("/ontology/<path:version>")
def ontology(version: str | None = None) -> Response:
    """The ontology document (its version IRIs answer the current ontology too)."""
    context = web()
    settings = context.settings
    graph = settings.graph_iri("ontology")
    fmt, html = negotiate_rdf(formats.PAGE_FORMATS)
    if html:
        view = resources.describe_ontology(
            context.store, graph, settings.ontology_iri, context.links
        )
        if view is None:
            return _not_found(settings.ontology_iri)
        return html_response(
            "ontology.html", view=view, links=context.links, alternates=_alternates()
        )
    if fmt is None:
        return not_acceptable(formats.PAGE_FORMATS)
    if graph not in context.store.named_graphs():
        return _not_found(settings.ontology_iri)
    return _graph_response(graph, fmt, "ontology")


@blueprint.route("/graph/<path:rest>")
def graph(rest: str) -> Response:
    """A named graph: the resources it describes (HTML) or its triples (RDF)."""
    context = web()
    iri = context.settings.graph_iri(rest)
    fmt, html = negotiate_rdf(formats.PAGE_FORMATS)
    if html:
        view = resources.describe_graph(context.store, iri, context.links)
        if view is None:
            return _not_found(iri)
        return html_response("graph.html", view=view, links=context.links, alternates=_alternates())
    if fmt is None:
        return not_acceptable(formats.PAGE_FORMATS)
    if iri not in context.store.named_graphs():
        return _not_found(iri)
    return _graph_response(iri, fmt, "graph/" + rest)


def _graph_response(graph: str, fmt: Format, path: str) -> Response:
    """One named graph's statements in ``fmt``, as an attachment."""
    context = web()
    if fmt in formats.QUAD_FORMATS:
        response = _quads_response(resources.graph_quads(context.store, graph), fmt)
    else:
        response = rdf_response(
            resources.graph_rdf(context.store, graph), fmt, context.settings.base_iri
        )
    return _attachment(response, path, fmt)


def _quads_response(quads: list[ox.Quad], fmt: Format) -> Response:
    body = formats.dataset_to_bytes(quads, fmt, output_prefixes(web().settings.base_iri))
    return Response(body, content_type=fmt.content_type)


def _attachment(response: Response, path: str, fmt: Format) -> Response:
    """Offer the answer as a download named after the page: ``id/country/NO`` in Turtle is
    ``country-NO.ttl``, the ontology ``ontology.ttl``."""
    stem = path.removeprefix("id/").strip("/").replace("/", "-") or "resource"
    response.headers.set("Content-Disposition", "attachment", filename=f"{stem}.{fmt.extension}")
    return response


def _alternates() -> list[tuple[str, str, str]]:
    """``(name, media type, URL)`` of this page in each RDF format, for links and ``<link rel>``."""
    endpoint, arguments = request.endpoint or "", dict(request.view_args or {})
    return [
        (fmt.name, fmt.media_type, url_for(endpoint, **arguments, format=fmt.name))
        for fmt in formats.PAGE_FORMATS
    ]


def _not_found(iri: str) -> Response:
    return error_response(404, f"nothing is known about <{iri}> in this graph")
