"""Search by name or code: the saved query ``search-labels`` (ranked, case-insensitive, labels
and identifiers), prepared here for the executor and read back as hits for the search page.

The text is bound as a literal (never spliced into the query); an empty text is no search.
"""

from __future__ import annotations

from dataclasses import dataclass

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.serving.service import QueryRequest
from iomkg.views import ResultTable, TermView

QUERY = "search-labels"
#: At most this many hits are shown (the query itself stops at 200).
MAX_HITS = 100


@dataclass(frozen=True)
class Hit:
    resource: TermView
    label: str
    type: TermView | None
    match: str
    exact: bool  # the text is the resource's identifier or its whole name


def search_request(settings: Settings, text: str, queries: catalog.Catalog) -> QueryRequest:
    """The executor's request for ``text`` (raises :class:`catalog.ParameterError` if unfit)."""
    bound = catalog.prepare(settings, QUERY, {"text": text}, queries)
    return catalog.query_request(
        bound,
        settings,
        results_format=formats.by_name("json", "results"),
        graph_format=formats.by_name("nt", "graph"),
        max_rows=MAX_HITS,
    )


def read_hits(table: ResultTable) -> list[Hit]:
    """The answer's rows as hits, best first (the query's order)."""
    column = {name: index for index, name in enumerate(table.columns)}
    hits = []
    for row in table.rows[:MAX_HITS]:
        resource = row[column["resource"]]
        label = row[column["label"]]
        kind = row[column["type"]]
        score = row[column["score"]].value
        hits.append(
            Hit(
                resource=resource,
                label=label.value or resource.text,
                type=kind if kind.kind == "iri" else None,
                match=row[column["match"]].value,
                exact=score in ("0", "1"),
            )
        )
    return hits
