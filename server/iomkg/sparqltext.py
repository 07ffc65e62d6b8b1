"""What the server must know about a SPARQL text before pyoxigraph runs it, found by a tokenizer.

pyoxigraph 0.5 evaluates ``SERVICE`` and ``LOAD`` itself, over HTTP, and its Python API has no
hook to refuse or redirect those calls; it also lets ``use_default_graph_as_union`` override a
query's own ``FROM``. So the server reads the text first: a tokenizer that follows the SPARQL 1.1
grammar's terminals (strings, IRIs, comments, prefixed names, variables) finds the keywords that
matter, never a word inside a string, an IRI or a comment. No regular expression over raw text
decides anything here, and nothing in this module builds SPARQL from values except
:func:`add_using_clauses`, which only writes IRIs that pyoxigraph has validated.

>>> network_targets("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }")
[Target(keyword='SERVICE', iri='http://example.org/sparql', position=17)]
>>> network_targets("SELECT * WHERE { ?s ?p 'SERVICE <http://x/>' } # LOAD <http://y/>")
[]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

import pyoxigraph as ox

TokenKind = Literal[
    "ws", "comment", "iri", "string", "var", "pname", "bnode", "langtag", "number", "word", "punct"
]

# Terminals of the SPARQL 1.1 grammar (§19.8), written out so that no token is greedier than
# the grammar's: a keyword can hide only where pyoxigraph would not see a keyword either.
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_UCHAR = r"(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})"

_TOKEN_PATTERNS: tuple[tuple[TokenKind, re.Pattern[str]], ...] = (
    ("ws", re.compile(r"[ \t\r\n]+")),
    ("comment", re.compile(r"#[^\r\n]*")),
    ("iri", re.compile(rf"<(?:[^<>\"{{}}|^`\\\x00-\x20]|{_UCHAR})*>")),
    ("string", re.compile(r"'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''", re.DOTALL)),
    ("string", re.compile(r'"""(?:(?:"|"")?(?:[^"\\]|\\.))*"""', re.DOTALL)),
    ("string", re.compile(r"'(?:[^'\\\r\n]|\\.)*'")),
    ("string", re.compile(r'"(?:[^"\\\r\n]|\\.)*"')),
    (
        "var",
        re.compile(rf"[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"),
    ),
    ("bnode", re.compile(rf"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?")),
    ("pname", re.compile(rf"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?")),
    ("langtag", re.compile(r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*")),
    ("number", re.compile(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?")),
    ("word", re.compile(r"[A-Za-z_][A-Za-z0-9_]*")),
)


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def is_word(self, *words: str) -> bool:
        """True for a bare keyword among ``words`` (SPARQL keywords are case-insensitive)."""
        return self.kind == "word" and self.text.upper() in words


def tokenize(text: str) -> Iterator[Token]:
    """The tokens of ``text``; anything the grammar's terminals do not match is one ``punct`` char.

    An unterminated string or IRI is not swallowed: its opening character becomes ``punct`` and
    what follows is read as code, so a keyword can never hide in a broken literal.

    >>> [t.text for t in tokenize("SELECT ?x WHERE{?x ex:p 'a b'}") if t.kind != "ws"]
    ['SELECT', '?x', 'WHERE', '{', '?x', 'ex:p', "'a b'", '}']
    """
    position, length = 0, len(text)
    while position < length:
        for kind, pattern in _TOKEN_PATTERNS:
            match = pattern.match(text, position)
            if match and match.end() > position:
                yield Token(kind, match.group(0), position)
                position = match.end()
                break
        else:
            # "^^" and "&&" and "||" are two punct tokens: harmless, nothing depends on them.
            yield Token("punct", text[position], position)
            position += 1


def code_tokens(text: str) -> list[Token]:
    """Tokens without whitespace and comments."""
    return list(_code_tokens(text))


@functools.lru_cache(maxsize=256)
def _code_tokens(text: str) -> tuple[Token, ...]:
    return tuple(token for token in tokenize(text) if token.kind not in ("ws", "comment"))


# Query form and dataset ------------------------------------------------------------------------

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_KEYWORDS = (
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
)


def operation_keyword(text: str) -> str | None:
    """The first query form or update keyword of ``text`` (upper case), or ``None``.

    >>> operation_keyword("PREFIX ex: <http://ex/> ASK { ?s ?p ?o }")
    'ASK'
    >>> operation_keyword("# INSERT\\nDELETE WHERE { ?s ?p ?o }")
    'DELETE'
    """
    fast = _FIRST_KEYWORD.match(text)
    if fast is not None and fast.group(1).upper() in _OPERATION_WORDS:
        return fast.group(1).upper()
    for token in code_tokens(text):
        if token.is_word(*QUERY_FORMS, *UPDATE_KEYWORDS):
            return token.text.upper()
    return None


# A prologue of plain PREFIX/BASE lines (no comment, no escape) followed by a keyword: the common
# case, read without the tokenizer; anything else falls through to it.
_FIRST_KEYWORD = re.compile(
    r"(?:[ \t\r\n]*(?:PREFIX[ \t\r\n]+(?:[A-Za-z][A-Za-z0-9_-]*)?:"
    r"[ \t\r\n]*<[^<>\"{}|^`\\\x00-\x20]*>"
    r"|BASE[ \t\r\n]*<[^<>\"{}|^`\\\x00-\x20]*>))*[ \t\r\n]*([A-Za-z]+)\b",
    re.IGNORECASE,
)
_OPERATION_WORDS = frozenset((*QUERY_FORMS, *UPDATE_KEYWORDS))


def is_update(text: str) -> bool:
    keyword = operation_keyword(text)
    return keyword is not None and keyword in UPDATE_KEYWORDS


def has_dataset_clause(text: str) -> bool:
    """True when a query names its own dataset (``FROM`` / ``FROM NAMED``).

    >>> has_dataset_clause("SELECT * FROM <http://g> WHERE { ?s ?p ?o }")
    True
    >>> has_dataset_clause("SELECT * WHERE { ?s <http://ex/from> 'FROM' }")
    False
    """
    if "from" not in text.lower():  # no FROM keyword can be in the text
        return False
    return any(token.is_word("FROM") for token in code_tokens(text))


# Bound values for an engine without substitutions ---------------------------------------------


def with_values(query: str, bindings: Mapping[str, ox.NamedNode | ox.Literal]) -> str:
    """``query`` with ``bindings`` given as pyoxigraph's substitutions give them, for a remote
    engine, which takes no substitutions: a ``VALUES`` block opening the outermost ``WHERE``
    group binds each variable for the projection, the template and the solution modifiers, and
    inside the group each of the variable's places holds its value (a block alone would not
    reach a ``FILTER`` in a ``UNION`` branch or an ``OPTIONAL``: SPARQL evaluates those groups
    before joining them with it). The values are RDF terms written by pyoxigraph (N-Triples
    syntax, escaped), never user text.

    >>> with_values("SELECT ?n WHERE { ?x <http://p> ?n }", {"x": ox.NamedNode("http://a")})
    'SELECT ?n WHERE { VALUES (?x) { (<http://a>) } <http://a> <http://p> ?n }'
    >>> with_values("SELECT ?x { { ?s ?p ?o FILTER(?o = ?x) } UNION { SELECT ?x {} } }",
    ...             {"x": ox.Literal("a")})[34:]
    '{ ?s ?p ?o FILTER(?o = "a") } UNION { SELECT ("a" AS ?x) {} } }'
    """
    if not bindings:
        return query
    for name, term in bindings.items():
        if not isinstance(term, ox.NamedNode | ox.Literal):
            raise ValueError(f"?{name}: only IRIs and literals can be bound, not {term!r}")
    names = " ".join("?" + ox.Variable(name).value for name in bindings)
    row = " ".join(str(term) for term in bindings.values())
    opening = _where_group(query)
    if opening is None and operation_keyword(query) == "DESCRIBE":  # DESCRIBE $x: no group
        return _described(query, bindings)
    if opening is None:
        raise ValueError(
            "the query has no WHERE group to bind values in (the CONSTRUCT WHERE short form "
            "has none apart from its template: write the template out)"
        )
    pieces, done = [query[: opening + 1], f" VALUES ({names}) {{ ({row}) }}"], opening + 1
    for token, value in _places_in_group(query, opening, bindings):
        pieces += [query[done : token.start], value]
        done = token.end
    return "".join([*pieces, query[done:]])


def _described(query: str, bindings: Mapping[str, ox.NamedNode | ox.Literal]) -> str:
    """``DESCRIBE $x`` (no ``WHERE``) with each bound variable's place holding its value.

    >>> _described("DESCRIBE $x ?y", {"x": ox.NamedNode("http://a")})
    'DESCRIBE <http://a> ?y'
    """
    pieces, done = [], 0
    for token in code_tokens(query):
        if token.kind == "var" and token.text[1:] in bindings:
            pieces += [query[done : token.start], str(bindings[token.text[1:]])]
            done = token.end
    return "".join([*pieces, query[done:]])


def _places_in_group(
    query: str, opening: int, bindings: Mapping[str, ox.NamedNode | ox.Literal]
) -> Iterator[tuple[Token, str]]:
    """Each place of a bound variable in the group that opens at ``opening``, with the text that
    takes its place: the term; ``(term AS ?v)`` in a subquery's projection, ``(term)`` as a
    subquery's ``GROUP BY`` or ``ORDER BY`` condition (where a bare term is not allowed)."""
    clause: str | None = None  # "select", "values" or "modifier" while in one, in a subquery
    clause_parens = parens = depth = 0
    previous: Token | None = None
    for token in code_tokens(query):
        if token.start < opening:
            continue
        if token.kind == "punct" and token.text in "{}":
            depth += 1 if token.text == "{" else -1
            clause = None
            if depth == 0:
                return
        elif token.kind == "punct" and token.text in "()":
            parens += 1 if token.text == "(" else -1
        elif token.is_word("SELECT", "GROUP", "ORDER"):
            clause = "select" if token.is_word("SELECT") else "modifier"
            clause_parens = parens
        elif token.is_word("VALUES"):
            clause = "values"
        elif token.is_word("WHERE", "HAVING", "LIMIT", "OFFSET"):
            clause = None
        elif token.kind == "var" and token.text[1:] in bindings:
            name = token.text[1:]
            if clause == "values" or (previous is not None and previous.is_word("AS")):
                raise ValueError(f"?{name} is given a value and assigned in the query too")
            term = str(bindings[name])
            if clause == "select" and parens == clause_parens:
                yield token, f"({term} AS ?{name})"
            elif clause == "modifier" and parens == clause_parens:
                yield token, f"({term})"
            else:
                yield token, term
        previous = token


def _where_group(query: str) -> int | None:
    """Where the ``{`` that opens the outermost WHERE group is: the first ``{`` at depth 0, but
    a CONSTRUCT's template (the first group unless ``CONSTRUCT WHERE``) is skipped."""
    template_first = operation_keyword(query) == "CONSTRUCT"
    depth = 0
    previous: Token | None = None
    for token in code_tokens(query):
        if depth == 0 and token.is_word("WHERE"):
            if previous is not None and previous.is_word("CONSTRUCT"):
                return None  # CONSTRUCT WHERE { … }: the group is the template too
            template_first = False
        elif token.kind == "punct" and token.text == "{":
            if depth == 0 and not template_first:
                return token.start
            depth += 1
        elif token.kind == "punct" and token.text == "}":
            depth -= 1
            if depth == 0:
                template_first = False
        previous = token
    return None


# Outbound network: SERVICE and LOAD -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One place a query or update would fetch from: ``iri`` is ``None`` when not a fixed IRI."""

    keyword: Literal["SERVICE", "LOAD"]
    iri: str | None
    position: int


class NetworkRefused(ValueError):
    """A query or update would reach out to an endpoint that is not allow-listed."""

    def __init__(self, target: Target, allowed: Sequence[str]) -> None:
        self.target = target
        where = f"<{target.iri}>" if target.iri else "an endpoint that is not a fixed IRI"
        if allowed:
            rule = "this server only calls out to: " + ", ".join(f"<{iri}>" for iri in allowed)
        else:
            rule = "this server makes no outbound requests (its SERVICE allow-list is empty)"
        verb = "federated query (SERVICE)" if target.keyword == "SERVICE" else "LOAD"
        super().__init__(f"{verb} to {where} is refused: {rule}")


def network_targets(text: str, base_iri: str | None = None) -> list[Target]:
    """Every ``SERVICE`` and ``LOAD`` of ``text`` with its IRI resolved (prefixes and ``BASE``).

    The IRI is ``None`` when it is a variable, an unknown prefix, has escapes, or is relative
    with no base: such a target can never match an allow-list entry.
    """
    lowered = text.lower()
    if "service" not in lowered and "load" not in lowered:  # no such keyword can be in the text
        return []
    tokens = code_tokens(text)
    found: list[Target] = []
    prefixes: dict[str, str] = {}
    base = base_iri
    for index, token in enumerate(tokens):
        if token.is_word("BASE") and index + 1 < len(tokens) and tokens[index + 1].kind == "iri":
            base = _resolve_iriref(tokens[index + 1].text, base) or base
        elif token.is_word("PREFIX") and index + 2 < len(tokens):
            name, iri = tokens[index + 1], tokens[index + 2]
            if name.kind == "pname" and name.text.endswith(":") and iri.kind == "iri":
                namespace = _resolve_iriref(iri.text, base)
                if namespace is not None:
                    prefixes[name.text[:-1]] = namespace
                else:
                    prefixes.pop(name.text[:-1], None)
        elif token.is_word("SERVICE", "LOAD"):
            following = tokens[index + 1 : index + 3]
            if following and following[0].is_word("SILENT"):
                following = following[1:]
            endpoint = following[0] if following else None
            keyword: Literal["SERVICE", "LOAD"] = "SERVICE" if token.is_word("SERVICE") else "LOAD"
            found.append(Target(keyword, _endpoint_iri(endpoint, prefixes, base), token.start))
    return found


def check_network_access(text: str, allowed: Sequence[str], base_iri: str | None = None) -> None:
    """Raise :class:`NetworkRefused` unless every ``SERVICE``/``LOAD`` target is in ``allowed``.

    >>> check_network_access("SELECT * { SERVICE <http://a/sparql> {} }", ["http://a/sparql"])
    >>> check_network_access("SELECT * { SERVICE ?ep {} }", ["http://a/sparql"])
    Traceback (most recent call last):
    ...
    iomkg.sparqltext.NetworkRefused: federated query (SERVICE) to an endpoint that is not ...
    """
    allow = set(allowed)
    for target in network_targets(text, base_iri):
        if target.iri is None or target.iri not in allow:
            raise NetworkRefused(target, list(allowed))


def _endpoint_iri(token: Token | None, prefixes: dict[str, str], base: str | None) -> str | None:
    if token is None:
        return None
    if token.kind == "iri":
        return _resolve_iriref(token.text, base)
    if token.kind == "pname" and "\\" not in token.text:
        prefix, _, local = token.text.partition(":")
        namespace = prefixes.get(prefix)
        return _absolute(namespace + local) if namespace is not None else None
    return None


def _resolve_iriref(iriref: str, base: str | None) -> str | None:
    """The absolute IRI of ``<…>``; ``None`` when escaped or unresolvable (never guessed)."""
    inner = iriref[1:-1]
    if "\\" in inner:
        return None
    if _absolute(inner) is not None:
        return inner
    if base is None:
        return None
    return _absolute(urljoin(base, inner))


def _absolute(iri: str) -> str | None:
    try:
        return ox.NamedNode(iri).value
    except ValueError:
        return None


# The protocol's using-graph-uri / using-named-graph-uri ---------------------------------------


class DatasetError(ValueError):
    """The protocol's using-graph-uri parameters cannot apply (bad IRI, or USING/WITH in text)."""


def add_using_clauses(update: str, using: Sequence[str], using_named: Sequence[str]) -> str:
    """Apply ``using-graph-uri``/``using-named-graph-uri`` to every ``WHERE`` of an update.

    pyoxigraph has no parameter for them, so the clauses are written into the text: before each
    top-level ``WHERE`` (found by the tokenizer, so never inside a string or IRI), and
    ``DELETE WHERE { P }`` becomes ``DELETE { P } USING … WHERE { P }``. An update that has its own
    ``USING`` or ``WITH`` is refused, as the SPARQL 1.1 Protocol (§2.2.3) asks.

    >>> add_using_clauses("DELETE { ?s ?p 'WHERE {' } WHERE { ?s ?p ?o }", ["http://g"], [])
    "DELETE { ?s ?p 'WHERE {' } USING <http://g> WHERE { ?s ?p ?o }"
    >>> add_using_clauses("DELETE WHERE { ?s ?p ?o }", [], ["http://n"])
    'DELETE { ?s ?p ?o } USING NAMED <http://n> WHERE { ?s ?p ?o }'
    """
    if not using and not using_named:
        return update
    clauses = " ".join(
        [f"USING <{_checked_iri(iri)}>" for iri in using]
        + [f"USING NAMED <{_checked_iri(iri)}>" for iri in using_named]
    )
    tokens = code_tokens(update)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied back to front
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text == "{":
            depth += 1
        elif token.kind == "punct" and token.text == "}":
            depth -= 1
        elif depth == 0 and token.is_word("USING", "WITH"):
            raise DatasetError(
                f"the update has its own {token.text.upper()} clause and the request also gives "
                "using-graph-uri/using-named-graph-uri: use one or the other"
            )
        elif depth == 0 and token.is_word("WHERE"):
            previous = tokens[index - 1] if index > 0 else None
            if previous is not None and previous.is_word("DELETE"):
                edits.append(_delete_where_edit(update, tokens, index, clauses))
            else:
                edits.append((token.start, token.start, clauses + " "))
    for start, end, replacement in sorted(edits, reverse=True):
        update = update[:start] + replacement + update[end:]
    return update


def _delete_where_edit(
    text: str, tokens: list[Token], where: int, clauses: str
) -> tuple[int, int, str]:
    """``DELETE WHERE { P }`` → ``DELETE { P } USING … WHERE { P }`` (same meaning, §3.1.3.3)."""
    opening = where + 1
    if opening >= len(tokens) or tokens[opening].text != "{":
        return (
            tokens[where].start,
            tokens[where].start,
            "",
        )  # not valid SPARQL: the parser says why
    depth = 0
    for closing in range(opening, len(tokens)):
        if tokens[closing].kind == "punct" and tokens[closing].text == "{":
            depth += 1
        elif tokens[closing].kind == "punct" and tokens[closing].text == "}":
            depth -= 1
            if depth == 0:
                pattern = text[tokens[opening].start : tokens[closing].end]
                return (
                    tokens[where].start,
                    tokens[closing].end,
                    f"{pattern} {clauses} WHERE {pattern}",
                )
    return (tokens[where].start, tokens[where].start, "")


def _checked_iri(iri: str) -> str:
    """The IRI if pyoxigraph accepts it as absolute (so it cannot break out of ``<…>``)."""
    try:
        return ox.NamedNode(iri).value
    except ValueError as error:
        raise DatasetError(f"{iri!r} is not an absolute IRI: {error}") from error


__all__ = [
    "DatasetError",
    "NetworkRefused",
    "Target",
    "Token",
    "add_using_clauses",
    "check_network_access",
    "code_tokens",
    "has_dataset_clause",
    "is_update",
    "network_targets",
    "operation_keyword",
    "tokenize",
]
