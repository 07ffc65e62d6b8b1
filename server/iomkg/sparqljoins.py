"""``FILTER [NOT] EXISTS`` of a SPARQL constraint rewritten as joins, so that it runs set at a time.

pyoxigraph evaluates ``FILTER EXISTS { P }`` once per solution of the group around it, and plans
``P`` without the solution's bindings: a ``P`` of two triple patterns (or a sequence path) is a
hash join built over the whole graph again for every solution. A SPARQL constraint checked over
every focus node at once then grows with the square of the graph (the quoting shapes took 52 s of
114 at 1M triples). Written as joins, pyoxigraph plans each part once over the graph:

* ``FILTER NOT EXISTS { P }`` in a group whose triple patterns are ``T`` becomes
  ``MINUS { T . P }``;
* ``FILTER EXISTS { P }`` becomes a join with ``{ SELECT DISTINCT vars(T) WHERE { T . P } }``.

Both give the same solutions, with the same multiplicities, as SPARQL's substitution semantics of
``EXISTS``, where ``T`` binds every variable the group has (a basic graph pattern always does),
``T`` has a variable (``MINUS`` removes nothing otherwise), and every filter of ``P`` sits in
``P``'s own group (where the join puts ``T``'s bindings too). So only a group of triple
patterns and filters is rewritten (the nested ``P`` alike); anything else (``OPTIONAL``,
``UNION``, sub-groups, ``BIND``, ``VALUES``, ``EXISTS`` inside an expression, blank node labels,
which may not repeat across patterns) leaves the query as it was, slower but exact. The
agreement test with pySHACL holds the rewritten constraints to the same report.

>>> rewrite_exists(
...     "SELECT ?this WHERE { ?this <p> ?v . FILTER NOT EXISTS { ?this <q> ?w . ?w <r> ?v } }"
... )
'SELECT ?this WHERE { ?this <p> ?v MINUS { ?this <p> ?v . ?this <q> ?w . ?w <r> ?v } }'
>>> rewrite_exists("SELECT ?this WHERE { ?this <p> ?v OPTIONAL { ?v <q> ?w } }") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iomkg.sparqltext import Token, code_tokens

#: Words a triple pattern may hold (``a`` for rdf:type, the boolean literals).
_TRIPLE_WORDS = frozenset({"A", "TRUE", "FALSE"})
_CLOSING = {"{": "}", "(": ")", "[": "]"}


@dataclass
class _Group:
    """A group of triple patterns and filters, its ``EXISTS`` filters read apart."""

    triples: list[str] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)
    filters: list[str] = field(default_factory=list)
    exists: list[tuple[bool, _Group]] = field(default_factory=list)  # (negated, pattern)

    def has_exists(self) -> bool:
        return bool(self.exists)


class _NotRewritten(Exception):
    """The group holds something the rewrite does not cover."""


def rewrite_exists(query: str) -> str | None:
    """``query`` (a SELECT) with its ``FILTER [NOT] EXISTS`` written as joins, or ``None`` when
    it has none or holds something the rewrite does not cover."""
    tokens = code_tokens(query)
    open_at = next((i for i, t in enumerate(tokens) if t.kind == "punct" and t.text == "{"), None)
    if open_at is None or any(t.is_word("EXISTS") for t in tokens[:open_at]):
        return None  # no group, or the first brace opens an EXISTS of the projection
    try:
        close_at = _matching(tokens, open_at)
        group = _read_group(query, tokens, open_at + 1, close_at)
        if not group.has_exists():
            return None
        body = _render(group, [], set())
    except _NotRewritten:
        return None
    start, end = tokens[open_at].start, tokens[close_at].end
    return f"{query[:start]}{{ {body} }}{query[end:]}"


def _matching(tokens: list[Token], at: int) -> int:
    """The index of the bracket closing the one at ``at``."""
    stack = [_CLOSING[tokens[at].text]]
    for index in range(at + 1, len(tokens)):
        token = tokens[index]
        if token.kind != "punct":
            continue
        if token.text in _CLOSING:
            stack.append(_CLOSING[token.text])
        elif token.text in ("}", ")", "]"):
            if stack.pop() != token.text:
                raise _NotRewritten("unbalanced brackets")
            if not stack:
                return index
    raise _NotRewritten("unbalanced brackets")


def _is(token: Token, text: str) -> bool:
    return token.kind == "punct" and token.text == text


def _read_group(query: str, tokens: list[Token], start: int, end: int) -> _Group:
    """The group between ``tokens[start]`` and ``tokens[end]`` (exclusive)."""
    group = _Group()
    index = start
    while index < end:
        token = tokens[index]
        if token.is_word("FILTER"):
            index = _read_filter(query, tokens, index, end, group)
            continue
        run_start = index
        depth = 0
        while index < end and not (depth == 0 and tokens[index].is_word("FILTER")):
            token = tokens[index]
            if token.kind == "punct" and token.text in ("{", "}"):
                raise _NotRewritten("a sub-group")
            if token.kind == "word" and token.text.upper() not in _TRIPLE_WORDS:
                raise _NotRewritten(f"{token.text} in a group")
            if token.kind == "bnode":
                raise _NotRewritten("a blank node label")
            if token.kind == "punct" and token.text in ("(", "["):
                depth += 1
            elif token.kind == "punct" and token.text in (")", "]"):
                depth -= 1
            if token.kind == "var":
                group.variables.add(token.text[1:])
            index += 1
        run = tokens[run_start:index]
        while run and _is(run[0], "."):
            run = run[1:]
        while run and _is(run[-1], "."):
            run = run[:-1]
        if run:
            group.triples.append(query[run[0].start : run[-1].end])
    return group


def _read_filter(query: str, tokens: list[Token], at: int, end: int, group: _Group) -> int:
    """Read the filter at ``tokens[at]`` into ``group``; the index after it."""
    index = at + 1
    negated = index < end and tokens[index].is_word("NOT")
    if negated:
        index += 1
    if index < end and tokens[index].is_word("EXISTS"):
        if index + 1 >= end or not _is(tokens[index + 1], "{"):
            raise _NotRewritten("EXISTS without a group")
        close = _matching(tokens, index + 1)
        group.exists.append((negated, _read_group(query, tokens, index + 2, close)))
        return close + 1
    if negated:
        raise _NotRewritten("NOT without EXISTS")
    if index < end and tokens[index].kind in ("word", "pname", "iri"):
        index += 1  # a function call: FILTER regex(...), FILTER isIRI(...), FILTER <f>(...)
    if index >= end or not _is(tokens[index], "("):
        raise _NotRewritten("a filter it cannot read")
    close = _matching(tokens, index)
    if any(t.is_word("EXISTS") for t in tokens[index:close]):
        raise _NotRewritten("EXISTS inside an expression")
    group.filters.append(query[tokens[at].start : tokens[close].end])
    return close + 1


def _render(group: _Group, outer: list[str], outer_variables: set[str]) -> str:
    """The group as joins, ``outer`` (the enclosing groups' triple patterns) joined in."""
    triples = [*outer, *group.triples]
    variables = outer_variables | group.variables
    if group.exists and not variables:
        raise _NotRewritten("EXISTS in a group without variables")
    parts = [" . ".join(triples)] if triples else []
    for negated, pattern in group.exists:
        body = _render(pattern, triples, variables)
        if negated:
            parts.append(f"MINUS {{ {body} }}")
        else:
            projected = " ".join(f"?{name}" for name in sorted(variables))
            parts.append(f"{{ SELECT DISTINCT {projected} WHERE {{ {body} }} }}")
    parts.extend(group.filters)
    return " ".join(parts)
