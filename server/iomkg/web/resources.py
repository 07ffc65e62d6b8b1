"""Linked data: every IRI under the base namespace dereferences here.

``/id/…`` is ``settings.base_iri + "id/…"``, ``/ontology`` (and its version IRIs) the ontology,
``/graph/…`` a named graph — whatever the base is, so a build with another base still resolves
its own IRIs on this server. Browsers get HTML; RDF clients get Turtle, JSON-LD, N-Triples or
RDF/XML by ``Accept`` or ``format=``.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from iomkg import formats, memberships, resources
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
    fmt, html = negotiate_rdf()
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
        return not_acceptable(formats.RESOURCE_FORMATS)
    if not resources.resource_exists(context.store, iri):
        return _not_found(iri)
    return rdf_response(resources.resource_rdf(context.store, iri), fmt, context.settings.base_iri)


@blueprint.route("/ontology")
@blueprint.route("/ontology/<path:version>")
def ontology(version: str | None = None) -> Response:
    """The ontology document (its version IRIs answer the current ontology too)."""
    context = web()
    settings = context.settings
    graph = settings.graph_iri("ontology")
    fmt, html = negotiate_rdf()
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
        return not_acceptable(formats.RESOURCE_FORMATS)
    if graph not in context.store.named_graphs():
        return _not_found(settings.ontology_iri)
    return rdf_response(resources.graph_rdf(context.store, graph), fmt, settings.base_iri)


@blueprint.route("/graph/<path:rest>")
def graph(rest: str) -> Response:
    """A named graph: the resources it describes (HTML) or its triples (RDF)."""
    context = web()
    iri = context.settings.graph_iri(rest)
    fmt, html = negotiate_rdf()
    if html:
        view = resources.describe_graph(context.store, iri, context.links)
        if view is None:
            return _not_found(iri)
        return html_response("graph.html", view=view, links=context.links, alternates=_alternates())
    if fmt is None:
        return not_acceptable(formats.RESOURCE_FORMATS)
    if iri not in context.store.named_graphs():
        return _not_found(iri)
    return rdf_response(resources.graph_rdf(context.store, iri), fmt, context.settings.base_iri)


def _alternates() -> list[tuple[str, str, str]]:
    """``(name, media type, URL)`` of this page in each RDF format, for links and ``<link rel>``."""
    endpoint, arguments = request.endpoint or "", dict(request.view_args or {})
    return [
        (fmt.name, fmt.media_type, url_for(endpoint, **arguments, format=fmt.name))
        for fmt in formats.RESOURCE_FORMATS
    ]


def _not_found(iri: str) -> Response:
    return error_response(404, f"nothing is known about <{iri}> in this graph")
