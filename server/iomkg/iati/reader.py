"""Streaming IATI activity files: one ``<iati-activity>`` at a time, in flat memory.

lxml's ``iterparse`` builds each activity, hands it over, and the activity is cleared and
unlinked before the next one is read, so a file of 100 MB takes the memory of its largest
activity. The reader is namespace-agnostic: the IATI elements are those in the root element's
namespace (none in a normal file, ``ns0:`` or another prefix where a tool wrote one); anything
in another namespace is an extension, kept by the mapper. The text of the lines an activity
spans is recorded on the way (each cut at :data:`LINE_LIMIT` characters), so its facts can
cite the line they come from without a second pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree

from iomkg.pipeline import SourceParseError

#: An excerpt quotes at most this many characters of a line (minified files are one line).
LINE_LIMIT = 1000
SUPPORTED_VERSIONS = ("2.01", "2.02", "2.03")
XML_NS = "http://www.w3.org/XML/1998/namespace"
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")


class VersionRefused(SourceParseError):
    """An IATI file of a version this importer does not take (1.0x, or unknown)."""

    exit_code = 2


class NotActivities(SourceParseError):
    """Well-formed XML that is not an IATI activity file (an organisation file, say)."""

    exit_code = 2


@dataclass
class FileInfo:
    """What the root of a file says (filled in as soon as the root element starts)."""

    path: Path
    root: str = ""  # local name: "iati-activities" or a bare "iati-activity"
    namespace: str | None = None  # the IATI elements' namespace in this file (normally none)
    version: str | None = None
    generated_datetime: str | None = None
    linked_data_default: str | None = None
    language: str | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)  # the root's, as written
    extensions: list[etree._Element] = field(default_factory=list)  # root-level non-activities
    sha256: str = ""
    activities: int = 0
    bytes_read: int = 0


@dataclass
class ActivityRecord:
    """One activity as read: its element (still in the file's namespace) and where it was."""

    element: etree._Element
    line: int
    index: int
    text: Callable[[int], str]  # a line's text; valid until the next activity is read


class _LineRecorder:
    """A binary stream that remembers the text of the lines read through it, and hashes them."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self.raw = raw
        self.encoding = encoding
        self.digest = hashlib.sha256()
        self.texts: dict[int, bytes] = {}
        self.line = 1
        self.partial = bytearray()
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        if chunk:
            self.consumed += len(chunk)
            self.digest.update(chunk)
            self._record(chunk)
        return chunk

    def _record(self, chunk: bytes) -> None:
        pieces = chunk.split(b"\n")
        for piece in pieces[:-1]:
            if len(self.partial) < LINE_LIMIT * 4:
                self.partial += piece[: LINE_LIMIT * 4]
            self.texts[self.line] = bytes(self.partial)
            self.partial.clear()
            self.line += 1
        if len(self.partial) < LINE_LIMIT * 4:
            self.partial += pieces[-1][: LINE_LIMIT * 4]

    def text(self, line: int) -> str:
        raw = self.texts.get(line, bytes(self.partial) if line == self.line else b"")
        text = raw.decode(self.encoding, errors="replace").rstrip("\r")
        if line == 1:
            text = text.lstrip("\ufeff")
        return text[:LINE_LIMIT] + ("…" if len(text) > LINE_LIMIT else "")

    def forget_before(self, line: int) -> None:
        for number in [n for n in self.texts if n < line]:
            del self.texts[number]


def line_of(element: etree._Element) -> int | None:
    """The element's line in its file (lxml-stubs types ``sourceline`` as ``...``)."""
    line: object = element.sourceline
    return line if isinstance(line, int) else None


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace_of(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def read_activities(
    path: Path, info: FileInfo | None = None, shown_as: Path | None = None
) -> Iterator[ActivityRecord]:
    """Each activity of the file at ``path``, in file order; ``info`` is filled as it goes.
    Errors name the file ``shown_as`` (the input as the user gave it) when ``path`` is a copy.

    Raises :class:`~iomkg.pipeline.SourceParseError` (file:line:column) when the file is not
    well-formed, :class:`VersionRefused` for IATI 1.0x, :class:`NotActivities` for other XML.
    The exception may come after some activities were yielded: callers keep nothing until the
    file has been read to its end.
    """
    info = info if info is not None else FileInfo(path)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise SourceParseError(
            shown_as or path, None, None, f"cannot read the file: {error.strerror}"
        ) from error
    with stream:
        head = stream.read(256)
        stream.seek(0)
        match = _ENCODING.match(head)
        encoding = match.group(1).decode("ascii") if match else "utf-8"
        recorder = _LineRecorder(stream, encoding)
        yield from _parse(shown_as or path, recorder, info)
        info.sha256 = recorder.digest.hexdigest()


def _parse(path: Path, recorder: _LineRecorder, info: FileInfo) -> Iterator[ActivityRecord]:
    # resolve_entities=False and no_network: no external entity or DTD is ever fetched (XXE).
    events = etree.iterparse(
        recorder,
        events=("start", "end"),
        remove_comments=True,
        remove_pis=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    depth = 0
    root: etree._Element | None = None
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    root = element
                    _read_root(path, element, info)
                continue
            depth -= 1
            is_activity = local_name(element) == "iati-activity" and (
                namespace_of(element) == info.namespace
            )
            if depth == 0 and info.root == "iati-activity":
                yield _record(element, info, recorder)
            elif depth == 1 and is_activity:
                yield _record(element, info, recorder)
                _drop(element, recorder)
            elif depth == 1 and info.root == "iati-activities":
                info.extensions.append(element)  # kept whole: a root-level extension element
    except etree.XMLSyntaxError as error:
        line, column = error.position if error.position else (error.lineno, None)
        message = re.sub(r", line \d+, column \d+$", "", str(error.msg or error)).strip()
        raise SourceParseError(path, line, column, f"not well-formed XML: {message}") from error
    if root is None:
        raise SourceParseError(path, 1, 1, "not well-formed XML: the file is empty")


def _read_root(path: Path, root: etree._Element, info: FileInfo) -> None:
    name = local_name(root)
    if name not in ("iati-activities", "iati-activity"):
        what = "an IATI organisation file" if name == "iati-organisations" else f"<{name}>"
        raise NotActivities(
            path,
            line_of(root),
            None,
            f"this is {what}, not an IATI activity file (its root must be <iati-activities>)",
        )
    info.root = name
    info.namespace = namespace_of(root)
    info.attributes = [(str(key), str(value)) for key, value in root.attrib.items()]
    info.language = root.get(f"{{{XML_NS}}}lang")
    if name == "iati-activities":
        info.version = root.get("version")
        info.generated_datetime = root.get("generated-datetime")
        info.linked_data_default = root.get("linked-data-default")
    else:  # a bare activity: d-portal copies the file's version and date onto each activity
        for key, value in root.attrib.items():
            local = etree.QName(key).localname
            if local == "version" and etree.QName(key).namespace:
                info.version = str(value)
            if local == "generated-datetime" and etree.QName(key).namespace:
                info.generated_datetime = str(value)
    version = (info.version or "").strip()
    if version.startswith("1."):
        raise VersionRefused(
            path,
            line_of(root),
            None,
            f"IATI version {version} is not supported: this importer reads IATI 2.01-2.03 "
            "(convert the file to 2.03 first, e.g. with the IATI Secretariat's converter)",
        )
    if version and not version.startswith("2."):
        raise VersionRefused(
            path,
            line_of(root),
            None,
            f"IATI version {version!r} is not supported: this importer reads IATI 2.01-2.03",
        )


def _record(element: etree._Element, info: FileInfo, recorder: _LineRecorder) -> ActivityRecord:
    info.activities += 1
    info.bytes_read = recorder.consumed
    return ActivityRecord(
        element=element,
        line=line_of(element) or 1,
        index=info.activities - 1,
        text=recorder.text,
    )


def _drop(element: etree._Element, recorder: _LineRecorder) -> None:
    """Free a mapped activity: its content, and the finished siblings before it."""
    last = max((line_of(child) or 0 for child in element.iter()), default=0)
    element.clear(keep_tail=False)  # type: ignore[call-arg]
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
        parent.remove(element)
    recorder.forget_before(last)
