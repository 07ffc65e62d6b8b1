"""What the pages of IOM and of a country show of IOM memberships: each spell and its source.

The generic resource page lists a membership only as a link ("Norway's membership of IOM"); a
reader of IOM's or a state's page wants the years and where they come from, and how many member
states the graph lists against the number IOM states. The queries are constants; the resource is
bound, never written into them. The counts are the ones ``iomkg.memberstates`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from iomkg import memberstates
from iomkg.store.base import GraphStore
from iomkg.views import LinkMap, TermView

#: Every spell of every IOM membership of ``?resource`` (IOM itself, or a member state).
SPELLS = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX time: <http://www.w3.org/2006/time#>
SELECT DISTINCT ?resource ?membership ?state ?stateLabel ?since ?until ?source ?sourceLabel
WHERE {
  { ?membership org:member ?resource } UNION { ?membership org:organization ?resource }
  ?membership a org:Membership ;
      org:organization <id/organisation/iom> ;
      org:member ?state .
  OPTIONAL { ?state skos:prefLabel ?stateLabel FILTER(langMatches(lang(?stateLabel), "en")) }
  OPTIONAL {
    ?membership dcterms:source ?source .
    OPTIONAL { ?source skos:prefLabel ?sourceLabel }
  }
  OPTIONAL {
    ?membership org:memberDuring ?period .
    OPTIONAL { ?period time:hasBeginning/time:inXSDgYear ?since }
    OPTIONAL { ?period time:hasEnd/time:inXSDgYear ?until }
  }
}
ORDER BY ?stateLabel ?since
"""


@dataclass(frozen=True)
class SpellView:
    """One spell of a membership: the state, its years (``until`` empty: still a member)."""

    membership: TermView
    state: TermView
    since: str
    until: str
    source: TermView


@dataclass(frozen=True)
class MembershipsView:
    """The memberships a page shows, and the graph's count against the one IOM states."""

    spells: tuple[SpellView, ...]
    listed: int  # states whose membership has not ended
    stated: tuple[str, ...]  # IOM's own figure(s): ("175",)
    sources: tuple[tuple[TermView, int], ...]  # each source and how many states it lists


def _text(term: object) -> str:
    return term.value if isinstance(term, ox.Literal) else ""


def _rows(store: GraphStore, sparql: str, base_iri: str, **bound: str) -> list[ox.QuerySolution]:
    result = store.query(
        sparql,
        base_iri=base_iri,
        substitutions={name: ox.NamedNode(iri) for name, iri in bound.items()} or None,
    )
    return list(result) if isinstance(result, ox.QuerySolutions) else []


def memberships_of(store: GraphStore, iri: str, links: LinkMap) -> MembershipsView | None:
    """The IOM memberships of ``iri`` (IOM: all of them), or None if it has none."""
    base = links.base_iri
    spells = tuple(
        SpellView(
            membership=links.term(row["membership"]),
            state=links.term(row["state"], _text(row["stateLabel"]) or None),
            since=_text(row["since"]),
            until=_text(row["until"]),
            source=links.term(row["source"], _text(row["sourceLabel"]) or None),
        )
        for row in _rows(store, SPELLS, base, resource=iri)
    )
    if not spells:
        return None
    listed = _rows(store, memberstates.LISTED, base)
    per_source = _rows(store, memberstates.LISTED_PER_SOURCE, base)
    return MembershipsView(
        spells=spells,
        listed=int(_text(listed[0]["n"]) or 0) if listed else 0,
        stated=tuple(sorted({_text(row["n"]) for row in _rows(store, memberstates.STATED, base)})),
        sources=tuple(
            (links.term(row["source"], _text(row["label"]) or None), int(_text(row["n"]) or 0))
            for row in per_source
        ),
    )
