"""Parse errors as a person would write them.

pyoxigraph's parser reports ``error at 3:24: expected one of GRAPH, MINUS, [_]`` or a list of
Unicode ranges, at the furthest point it reached, which is often past the real mistake. This
module turns that message and the query text into a :class:`SyntaxProblem`: the line and column
of the offending token, the token itself, what is wrong and a short hint. The store raises
:class:`~iomkg.store.base.QuerySyntaxError` with :meth:`SyntaxProblem.text`, so the query page,
the API and the CLI all show the same explanation.

>>> problem = explain("error at 1:30: expected one of Prefix not found, ['%']",
...                   "SELECT * WHERE { ?s a foo:Bar }", {"rdfs": "http://r#"})
>>> print(problem.text())
line 1, column 23: unknown prefix "foo:" in foo:Bar
  SELECT * WHERE { ?s a foo:Bar }
                        ^^^^^^^
Declare it (PREFIX foo: <http://…>) or use one of the predeclared prefixes: rdfs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from iomkg import sparqltext
from iomkg.sparqltext import Token

_POSITION = re.compile(r"^error at (\d+):(\d+):\s*(.*)$", re.DOTALL)

#: SPARQL 1.1 keywords (for "did you mean" on a misspelt one).
KEYWORDS = (
    "BASE",
    "PREFIX",
    "SELECT",
    "CONSTRUCT",
    "DESCRIBE",
    "ASK",
    "DISTINCT",
    "REDUCED",
    "AS",
    "FROM",
    "NAMED",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "ASC",
    "DESC",
    "LIMIT",
    "OFFSET",
    "VALUES",
    "OPTIONAL",
    "GRAPH",
    "SERVICE",
    "SILENT",
    "BIND",
    "UNDEF",
    "MINUS",
    "UNION",
    "FILTER",
    "NOT",
    "EXISTS",
    "IN",
    "LOAD",
    "CLEAR",
    "DROP",
    "CREATE",
    "ADD",
    "MOVE",
    "COPY",
    "INSERT",
    "DELETE",
    "DATA",
    "WITH",
    "USING",
    "DEFAULT",
    "ALL",
    "INTO",
    "TO",
    "STR",
    "LANG",
    "LANGMATCHES",
    "DATATYPE",
    "BOUND",
    "IRI",
    "URI",
    "BNODE",
    "RAND",
    "ABS",
    "CEIL",
    "FLOOR",
    "ROUND",
    "CONCAT",
    "STRLEN",
    "UCASE",
    "LCASE",
    "ENCODE_FOR_URI",
    "CONTAINS",
    "STRSTARTS",
    "STRENDS",
    "STRBEFORE",
    "STRAFTER",
    "YEAR",
    "MONTH",
    "DAY",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "TIMEZONE",
    "TZ",
    "NOW",
    "UUID",
    "STRUUID",
    "MD5",
    "SHA1",
    "SHA256",
    "SHA384",
    "SHA512",
    "COALESCE",
    "IF",
    "STRLANG",
    "STRDT",
    "SAMETERM",
    "ISIRI",
    "ISURI",
    "ISBLANK",
    "ISLITERAL",
    "ISNUMERIC",
    "REGEX",
    "SUBSTR",
    "REPLACE",
    "COUNT",
    "SUM",
    "MIN",
    "MAX",
    "AVG",
    "SAMPLE",
    "GROUP_CONCAT",
    "SEPARATOR",
    "TRUE",
    "FALSE",
)


@dataclass(frozen=True)
class SyntaxProblem:
    """Where a query stops parsing, and why, in words.

    ``line`` and ``column`` count from 1 (characters, not bytes); ``length`` is the offending
    token's length (0 when the query simply ends too early).
    """

    line: int
    column: int
    length: int
    token: str
    summary: str
    hint: str
    excerpt: str

    def text(self) -> str:
        """The message: position and summary, the line with the token marked, the hint."""
        head = f"line {self.line}, column {self.column}: {self.summary}"
        lines = [head]
        if self.excerpt.strip():
            lines.append("  " + self.excerpt)
            lines.append("  " + " " * (self.column - 1) + "^" * max(self.length, 1))
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "length": self.length,
            "token": self.token,
            "summary": self.summary,
            "hint": self.hint,
            "message": self.text(),
        }


def explain(
    message: str,
    sparql: str,
    prefixes: Mapping[str, str] | None = None,
    base_iri: str | None = None,
) -> SyntaxProblem:
    """Turn the parser's ``message`` about ``sparql`` into a :class:`SyntaxProblem`.

    ``prefixes`` are the predeclared ones (the query's own ``PREFIX`` lines are read from it);
    ``base_iri`` lets a hint write a prefixed name as the relative IRI that means the same.
    """
    declared = {**(prefixes or {}), **_declared_prefixes(sparql)}
    predeclared = sorted(prefixes or {})
    match = _POSITION.match(message.strip())
    if match is None:
        line, column, rest = 1, 1, message.strip()
    else:
        line, column, rest = int(match.group(1)), int(match.group(2)), match.group(3)
    offset = _offset(sparql, line, column)
    tokens = sparqltext.code_tokens(sparql)
    for finder in (_slash_in_local_name, _unknown_prefix):
        found = finder(tokens, declared, predeclared, base_iri, offset)
        if found is not None:
            token, summary, hint = found
            return _problem(sparql, token.start, len(token.text), token.text, summary, hint)
    unclosed = _unterminated(tokens, offset)
    if unclosed is not None:
        token, summary, hint = unclosed
        return _problem(sparql, token.start, len(token.text), token.text, summary, hint)
    misspelt = _misspelt_keyword(tokens, offset)
    if misspelt is not None:
        word, suggestion = misspelt
        return _problem(
            sparql,
            word.start,
            len(word.text),
            word.text,
            f'unexpected word "{word.text}"',
            f"Did you mean {suggestion}?",
        )
    structural = _structure(sparql, tokens, offset)
    if structural is not None:
        at, token_text, summary, hint = structural
        return _problem(sparql, at, len(token_text), token_text, summary, hint)
    expected = _expected(rest)
    near = _token_at(tokens, offset)
    if "IRI parsing failed" in rest and near is not None:
        iri = _iri_near(sparql, tokens, offset)
        if iri is not None:
            return _problem(
                sparql,
                iri[0],
                len(iri[1]),
                iri[1],
                f"{iri[1]} is not a valid IRI",
                "An IRI has no spaces, quotes or braces; a relative one such as <id/country/NO> "
                "resolves against the graph's base namespace.",
            )
    if near is None or offset >= len(sparql.rstrip()):
        summary = "the query ends before it is complete"
        hint = f"Expected {expected}." if expected else "Something is missing at the end."
        end = len(sparql.rstrip())
        return _problem(sparql, end, 0, "", summary, hint)
    return _problem(
        sparql,
        near.start,
        len(near.text),
        near.text,
        f'unexpected "{near.text}"',
        f"Expected {expected}."
        if expected
        else 'Look just before it for a missing ".", ";", bracket or keyword.',
    )


def check_syntax(
    sparql: str, prefixes: Mapping[str, str] | None = None, base_iri: str | None = None
) -> SyntaxProblem | None:
    """Parse ``sparql`` (a query or an update) without running it: ``None`` when it parses.

    An ASK that calls a SERVICE is not parsed here (ASK evaluates at once, and nothing may be
    called out from a syntax check): it is reported when run.
    """
    store = ox.Store()
    used = {name: iri for name, iri in (prefixes or {}).items()}
    keyword = sparqltext.operation_keyword(sparql)
    try:
        if keyword is not None and sparqltext.is_update(sparql):
            # An update on an empty, throw-away store: nothing else is touched.
            if sparqltext.network_targets(sparql, base_iri):
                return None
            _parse_update(store, sparql, used, base_iri)
        else:
            if keyword == "ASK" and sparqltext.network_targets(sparql, base_iri):
                return None
            store.query(sparql, base_iri=base_iri, prefixes=used or None)
    except SyntaxError as error:
        return explain(str(error), sparql, prefixes, base_iri)
    except (RuntimeError, OSError, ValueError):
        return None  # parsed; failing to evaluate on an empty store is not a syntax matter
    return None


def _parse_update(
    store: ox.Store, sparql: str, prefixes: Mapping[str, str], base_iri: str | None
) -> None:
    """Updates take no ``prefixes``: declare them in the text (a query's own PREFIX wins)."""
    own = _declared_prefixes(sparql)
    header = "".join(
        f"PREFIX {name}: <{iri}>\n" for name, iri in prefixes.items() if name not in own
    )
    try:
        store.update(header + sparql, base_iri=base_iri)
    except SyntaxError as error:
        shift = header.count("\n")
        raise SyntaxError(_shift_lines(str(error), shift)) from error


def _shift_lines(message: str, lines: int) -> str:
    match = _POSITION.match(message)
    if match is None:
        return message
    return f"error at {int(match.group(1)) - lines}:{match.group(2)}: {match.group(3)}"


# Finders: each returns (token, summary, hint) or None ----------------------------------------

Found = tuple[Token, str, str]


def _slash_in_local_name(
    tokens: Sequence[Token],
    declared: Mapping[str, str],
    predeclared: Sequence[str],
    base_iri: str | None,
    offset: int,
) -> Found | None:
    """``id:country/NO``: SPARQL local names cannot hold an unescaped ``/``."""
    for index, token in enumerate(tokens):
        if token.start > offset:
            break
        if token.kind != "pname" or token.text.startswith("_:"):
            continue
        rest = _glued(tokens, index)
        if not rest.startswith("/"):
            continue
        prefix, _, local = token.text.partition(":")
        whole = token.text + rest
        namespace = declared.get(prefix)
        written = whole
        if namespace is not None:
            full = namespace + local + rest
            if base_iri and full.startswith(base_iri):
                written = f"<{full[len(base_iri) :]}>"
            else:
                written = f"<{full}>"
        escaped = token.text + rest.replace("/", "\\/")
        fake = Token("pname", whole, token.start)
        return (
            fake,
            f"{whole} is not a prefixed name SPARQL allows: its local part has a '/'",
            f"Write {written} (or {escaped}).",
        )
    return None


def _unknown_prefix(
    tokens: Sequence[Token],
    declared: Mapping[str, str],
    predeclared: Sequence[str],
    base_iri: str | None,
    offset: int,
) -> Found | None:
    for token in tokens:
        if token.kind != "pname" or token.text.startswith("_:"):
            continue
        prefix = token.text.partition(":")[0]
        if prefix in declared:
            continue
        names = ", ".join(predeclared) if predeclared else "none"
        close = difflib.get_close_matches(prefix, list(declared), n=2, cutoff=0.5)
        maybe = f"Did you mean {' or '.join(name + ':' for name in close)}? " if close else ""
        return (
            token,
            f'unknown prefix "{prefix}:" in {token.text}',
            f"{maybe}Declare it (PREFIX {prefix}: <http://…>) or use one of the predeclared "
            f"prefixes: {names}.",
        )
    return None


def _unterminated(tokens: Sequence[Token], offset: int) -> Found | None:
    """A quote that opens a string never closed (the tokenizer leaves it as a lone ``punct``)."""
    for token in tokens:
        if token.kind == "punct" and token.text in ("'", '"'):
            return (
                token,
                "a string is opened here and never closed",
                f"Close it with {token.text} on the same line (use triple quotes for text "
                "over several lines).",
            )
    return None


def _misspelt_keyword(tokens: Sequence[Token], offset: int) -> tuple[Token, str] | None:
    """A bare word before the error that is no keyword but looks like one (``LIMT``)."""
    for token in reversed([t for t in tokens if t.start <= offset]):
        if token.kind != "word" or token.text == "a":
            continue
        upper = token.text.upper()
        if upper in KEYWORDS:
            continue
        close = difflib.get_close_matches(upper, KEYWORDS, n=1, cutoff=0.75)
        if close:
            return token, close[0]
        return None
    return None


#: What may follow a WHERE block but not stand inside one (outside a subquery's own SELECT).
_MODIFIERS = {
    "LIMIT": "LIMIT",
    "OFFSET": "OFFSET",
    "HAVING": "HAVING",
    "ORDER": "ORDER BY",
    "GROUP": "GROUP BY",
}
_CLOSING = {"{": "}", "(": ")", "[": "]"}
#: Tokens that are one RDF term in a triple (``a``, ``true`` and ``false`` are words).
_TERM_KINDS = ("var", "iri", "pname", "string", "number", "bnode")


@dataclass
class _Frame:
    """An open bracket while :func:`_structure` walks the query, and the triple it is reading.

    ``state`` counts the parts of the current triple seen (0 none, 1 subject, 2 predicate,
    3 object) in a ``{`` that holds triples; ``None`` where it cannot tell (after a keyword,
    in a subquery's head, in VALUES data), until a ``.`` or a closed group starts afresh.
    """

    token: Token
    state: int | None = 0
    subquery: bool = False
    data_next: bool = False
    last_term: Token | None = None


def _structure(
    sparql: str, tokens: Sequence[Token], offset: int
) -> tuple[int, str, str, str] | None:
    """Brackets and triples: a ``}`` missing (at the end, or before LIMIT, ORDER BY, GROUP BY),
    a closing bracket that closes nothing or the wrong one, a ``.`` missing between two triples.

    Returns (offset, token, summary, hint) of the first such mistake in the text: the parser
    stops at the first one too, though it often reports a point further on.
    """
    stack: list[_Frame] = []
    top = _Frame(Token("punct", "", 0), state=None)  # outside any bracket: no triples
    datatype_skip = 0
    previous: Token | None = None
    for index, token in enumerate(tokens):
        frame = stack[-1] if stack else top
        tracking = frame.token.text == "{" and not frame.subquery
        if token.kind == "punct" and token.text in _CLOSING:
            if token.text == "{" and frame.data_next:
                frame.data_next = False
                stack.append(_Frame(token, state=None, subquery=True))
            elif token.text == "{":
                stack.append(_Frame(token))
            else:
                if tracking and frame.state is not None:
                    found = _term(sparql, frame, token, previous)
                    if found is not None:
                        return found
                stack.append(_Frame(token, state=None))
            previous = token
            continue
        if token.kind == "punct" and token.text in ("}", ")", "]"):
            if not stack:
                return (
                    token.start,
                    token.text,
                    f'unexpected "{token.text}": nothing is open here for it to close',
                    f'Remove it, or add the "{_opening(token.text)}" it was meant to close.',
                )
            opened = stack[-1].token
            if _CLOSING[opened.text] != token.text:
                return (
                    token.start,
                    token.text,
                    f'unexpected "{token.text}": the "{opened.text}" at '
                    f"{_where(sparql, opened.start)} is still open",
                    f'Close it with "{_CLOSING[opened.text]}" before this "{token.text}".',
                )
            stack.pop()
            parent = stack[-1] if stack else top
            if parent.state is None and opened.text == "(" and parent.token.text == "{":
                parent.state = 0  # FILTER(…), BIND(…) ended: a triple may follow
            elif opened.text == "{" and parent.token.text == "{":
                parent.state = 0  # a group ({…} UNION {…}, OPTIONAL {…}) ended
            previous = token
            continue
        if not tracking:
            if token.kind == "word":
                upper = token.text.upper()
                if upper == "SELECT" and stack:
                    frame.subquery = True
                elif upper == "WHERE" and frame.token.text == "(":
                    return (
                        token.start,
                        token.text,
                        f'missing ")" before WHERE: the "(" at '
                        f"{_where(sparql, frame.token.start)} is still open",
                        'Close it with ")" before WHERE.',
                    )
                elif upper in _MODIFIERS and _modifier_inside_group(stack, tokens, index):
                    return _modifier_found(sparql, stack, token, upper)
                elif upper == "VALUES":
                    frame.data_next = True
            previous = token
            continue
        # Inside a group that holds triples.
        upper = token.text.upper() if token.kind == "word" else ""
        if token.kind == "word" and upper in _MODIFIERS and upper not in ("GROUP", "ORDER"):
            return _modifier_found(sparql, stack, token, upper)
        if upper in ("GROUP", "ORDER") and _followed_by(tokens, index, "BY"):
            return _modifier_found(sparql, stack, token, upper)
        if datatype_skip:
            datatype_skip -= 1
            previous = token
            continue
        if token.kind == "langtag":
            previous = token
            continue
        if (
            token.text == "^"
            and previous is not None
            and previous.kind == "string"
            and _followed_by_text(tokens, index, "^")
        ):
            datatype_skip = 2  # "1"^^xsd:int: the datatype belongs to the literal
            previous = token
            continue
        if token.kind in _TERM_KINDS or (token.kind == "word" and upper in ("A", "TRUE", "FALSE")):
            if frame.state is not None:
                found = _term(sparql, frame, token, previous)
                if found is not None:
                    return found
            previous = token
            continue
        if token.kind == "word":
            if upper == "SELECT":
                frame.subquery = True
            if upper == "VALUES":
                frame.data_next = True
            frame.state = None  # FILTER, BIND, OPTIONAL, GRAPH, a function…: not a triple
        elif token.text == ".":
            frame.state = 0
        elif token.text == ";":
            frame.state = 1 if frame.state is not None else None
        elif token.text == ",":
            frame.state = 2 if frame.state is not None else None
        elif token.text in ("/", "|") and frame.state == 2:
            frame.state = 1  # a property path goes on
        elif not _path_operator(token.text, frame.state):
            frame.state = None
        previous = token
    if stack:
        opened = stack[-1].token
        closing = _CLOSING[opened.text]
        end = len(sparql.rstrip())
        return (
            end,
            "",
            f'missing "{closing}" at the end: the "{opened.text}" at '
            f"{_where(sparql, opened.start)} is never closed",
            f'Close it with "{closing}".',
        )
    return None


def _term(
    sparql: str, frame: _Frame, token: Token, previous: Token | None
) -> tuple[int, str, str, str] | None:
    """One more term in the triple ``frame`` reads (a ``(`` or ``[`` opens one); a fourth one
    starts a triple without a dot."""
    assert frame.state is not None
    if frame.state == 3 and frame.last_term is not None:
        end = previous.end if previous is not None else frame.last_term.end
        ended = " ".join(sparql[frame.last_term.start : end].split())
        if len(ended) > 40:
            ended = ended[:39] + "…"
        return (
            token.start,
            token.text,
            f'missing "." before {token.text}: the triple before it ends at {ended}',
            f'Put "." after {ended} to end that triple (or ";" to go on with the same subject).',
        )
    frame.state += 1
    frame.last_term = token
    return None


def _path_operator(text: str, state: int | None) -> bool:
    """``*``, ``+``, ``?`` after a predicate; ``^``, ``!`` before one: a property path."""
    return (text in ("*", "+", "?") and state == 2) or (text in ("^", "!") and state == 1)


def _modifier_found(
    sparql: str, stack: Sequence[_Frame], token: Token, upper: str
) -> tuple[int, str, str, str]:
    words = _MODIFIERS[upper]
    opened = next(frame.token for frame in reversed(stack) if frame.token.text == "{")
    return (
        token.start,
        token.text,
        f'missing "}}" before {words}: the "{{" at {_where(sparql, opened.start)} is still open',
        f'Close the WHERE block with "}}" before {words}: LIMIT, OFFSET, ORDER BY, GROUP BY and '
        "HAVING come after it.",
    )


def _modifier_inside_group(stack: Sequence[_Frame], tokens: Sequence[Token], index: int) -> bool:
    """A LIMIT or ORDER BY inside a ``{`` that is no subquery's (whose head allows them)."""
    upper = tokens[index].text.upper()
    if upper in ("GROUP", "ORDER") and not _followed_by(tokens, index, "BY"):
        return False
    braces = [frame for frame in stack if frame.token.text == "{"]
    return bool(braces) and stack[-1].token.text == "{" and not braces[-1].subquery


def _followed_by(tokens: Sequence[Token], index: int, word: str) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].is_word(word)


def _followed_by_text(tokens: Sequence[Token], index: int, text: str) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].text == text


def _opening(closing: str) -> str:
    return {value: key for key, value in _CLOSING.items()}[closing]


def _where(sparql: str, offset: int) -> str:
    """``line 3, column 7`` of ``offset`` (1-based)."""
    before = sparql[:offset]
    return f"line {before.count(chr(10)) + 1}, column {offset - (before.rfind(chr(10)) + 1) + 1}"


# Helpers ------------------------------------------------------------------------------------


def _declared_prefixes(sparql: str) -> dict[str, str]:
    """The query's own ``PREFIX name: <iri>`` declarations."""
    found: dict[str, str] = {}
    tokens = sparqltext.code_tokens(sparql)
    for index, token in enumerate(tokens[:-2]):
        if token.is_word("PREFIX") and tokens[index + 1].kind == "pname":
            name = tokens[index + 1].text.rstrip(":").partition(":")[0]
            iri = tokens[index + 2].text
            found[name] = iri[1:-1] if iri.startswith("<") else iri
    return found


def _glued(tokens: Sequence[Token], index: int) -> str:
    """The text glued to token ``index`` without space (``/NO`` after ``id:country``)."""
    text, end = "", tokens[index].end
    for token in tokens[index + 1 :]:
        if token.start != end or token.text in ("}", ")", ".", ";", ",", "]"):
            break
        text += token.text
        end = token.end
    return text


def _offset(text: str, line: int, column: int) -> int:
    """The character offset of 1-based ``line``/``column`` in ``text`` (clamped)."""
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    before = sum(len(item) + 1 for item in lines[: line - 1])
    return min(before + max(column - 1, 0), len(text))


def _token_at(tokens: Sequence[Token], offset: int) -> Token | None:
    """The token covering ``offset``, else the last one before it."""
    previous: Token | None = None
    for token in tokens:
        if token.start <= offset < token.end:
            return token
        if token.start > offset:
            break
        previous = token
    return previous


def _iri_near(sparql: str, tokens: Sequence[Token], offset: int) -> tuple[int, str] | None:
    """The ``<…>`` (valid token or not) that ends at or before ``offset``."""
    start = sparql.rfind("<", 0, max(offset, 1))
    if start < 0:
        return None
    end = sparql.find(">", start)
    if end < 0:
        return None
    return start, sparql[start : end + 1]


def _expected(rest: str) -> str:
    """The parser's "expected one of …" without character classes, as plain words."""
    body = rest.removeprefix("expected one of ").removeprefix("expected ")
    items: list[str] = []
    for item in _split_items(body):
        item = item.strip()
        if not item or item.startswith("[") or " " in item.strip('"'):
            continue  # ['A' ..= 'Z' …], [_], "Prefix not found", "IRI parsing failed"
        if item.startswith('"') and item.endswith('"'):
            item = item[1:-1].replace("\\\\", "\\").replace("\\'", "'")
        items.append(f'"{item}"' if not item.isalpha() else item.upper())
    if not items or len(items) > 6:
        return ""  # a long list helps nobody: the hint says what is missing
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _split_items(body: str) -> list[str]:
    """Split on commas outside ``[…]`` and quotes."""
    items, current, depth, quote = [], "", 0, ""
    for char in body:
        if quote:
            current += char
            if char == quote:
                quote = ""
            continue
        if char in "\"'" and depth == 0 and not current.strip():
            quote = char
            current += char
        elif char == "[":
            depth += 1
            current += char
        elif char == "]":
            depth -= 1
            current += char
        elif char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


def _problem(
    sparql: str, offset: int, length: int, token: str, summary: str, hint: str
) -> SyntaxProblem:
    before = sparql[:offset]
    line = before.count("\n") + 1
    line_start = before.rfind("\n") + 1
    line_end = sparql.find("\n", offset)
    excerpt = sparql[line_start : line_end if line_end >= 0 else len(sparql)]
    column = offset - line_start + 1
    length = min(length, max(len(excerpt) - column + 1, 0))
    return SyntaxProblem(line, column, length, token, summary, hint, excerpt.rstrip("\r"))


__all__ = ["SyntaxProblem", "check_syntax", "explain"]
