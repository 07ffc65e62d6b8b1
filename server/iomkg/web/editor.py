"""What the query editor asks the server while one types (JSON, for the page's script).

* ``POST /sparql/check`` (``query=`` form field, or the text as the body): the syntax check of
  :func:`iomkg.syntaxhelp.check_syntax`, the same explanation a run would give, as JSON; the
  editor marks the line and column.
* ``POST /sparql/names`` (``iri=`` form fields): how pages name those resources, as JSON
  ``{iri: name}`` (:func:`iomkg.resources.resource_names`), for the graph view's node labels.
* ``GET /sparql/terms``: what the editor completes (prefixes, classes, properties, saved
  queries), from :mod:`iomkg.completion` and the catalogue.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from iomkg import catalog, completion, resources, syntaxhelp
from iomkg.vocab import prefixes
from iomkg.web.api import editor_url, saved_queries
from iomkg.web.common import web

blueprint = Blueprint("editor", __name__)


@blueprint.route("/sparql/check", methods=["POST"])
def check() -> Response:
    text = request.form.get("query")
    if text is None:
        text = request.get_data(as_text=True)
    base = web().settings.base_iri
    problem = syntaxhelp.check_syntax(text, prefixes(base), base)
    if problem is None:
        return jsonify({"ok": True})
    return jsonify({"ok": False, "problem": problem.to_json()})


@blueprint.route("/sparql/names", methods=["POST"])
def names() -> Response:
    context = web()
    iris = request.form.getlist("iri")[: resources.NAMES_LIMIT]
    return jsonify(resources.resource_names(context.store, iris, context.links))


@blueprint.route("/sparql/terms")
def terms() -> Response:
    context = web()
    base = context.settings.base_iri
    found: dict[str, object] = dict(
        context.statistics.get(
            "completion", lambda: completion.completion_terms(context.store, base)
        )
    )
    try:
        queries = saved_queries()
    except catalog.CatalogError:
        queries = catalog.Catalog(())  # the API page says what is wrong with it
    found["queries"] = [
        {
            "name": saved.name,
            "title": saved.title,
            "sparql": saved.sparql,
            "needs_values": bool(saved.needs_values),
            "editor_url": editor_url(saved),
        }
        for saved in queries.values()
    ]
    response = jsonify(found)
    response.cache_control.max_age = 60
    return response
