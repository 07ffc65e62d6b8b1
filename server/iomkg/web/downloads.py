"""``/download/``: the dumps of the build being served, with validators and gzip.

Each file has its media type, a strong ``ETag`` and ``Last-Modified`` (so ``If-None-Match`` /
``If-Modified-Since`` answer 304), and is sent gzip-compressed to clients that accept it: the
precompressed ``name.gz`` when the build wrote one, else compressed on the fly as it streams.
``Vary: Accept-Encoding`` tells caches the two bodies apart. Every file is offered as an
attachment under its own name (``Content-Disposition: attachment; filename=iomkg.ttl``), also
when sent compressed: the ``.gz`` is only the transfer's encoding.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_file, url_for

from iomkg import dumps
from iomkg.web.common import error_response, html_response, web

blueprint = Blueprint("downloads", __name__)

CACHE_SECONDS = 300


@blueprint.route("/download/")
def index() -> Response:
    """The list of dumps: an HTML page, or JSON for programs that ask for it."""
    context = web()
    files = dumps.list_dumps(context.dumps_dir)
    best = request.accept_mimetypes.best_match(
        ["text/html", "application/json"], default="text/html"
    )
    if request.args.get("format") == "json" or (
        best == "application/json" and "format" not in request.args
    ):
        return jsonify(
            [
                {
                    "name": dump.name,
                    "url": url_for("downloads.download", name=dump.name, _external=True),
                    "mediaType": dump.media_type,
                    "bytes": dump.size,
                    "modified": dump.modified.isoformat(),
                    "description": dump.description,
                }
                for dump in files
            ]
        )
    return html_response("downloads.html", dumps=files)


@blueprint.route("/download/<name>")
def download(name: str) -> Response:
    context = web()
    dump = dumps.find_dump(context.dumps_dir, name)
    if dump is None:
        return error_response(404, f"no download called {name!r}; see /download/ for the list")
    if request.accept_encodings.quality("gzip") > 0:
        response = _gzip(dump)
    else:
        response = _send(dump, dump.path, dump.etag)
    response.vary.add("Accept-Encoding")
    return response


def _send(dump: dumps.Dump, path: Path, etag: str) -> Response:
    """A file of the dump (plain or precompressed), conditional and cacheable."""
    return send_file(
        path,
        mimetype=dump.media_type,
        conditional=True,
        etag=etag,
        last_modified=dump.modified,
        max_age=CACHE_SECONDS,
        as_attachment=True,
        download_name=dump.name,
    )


def _gzip(dump: dumps.Dump) -> Response:
    if dump.gzip_path is not None:
        response = _send(dump, dump.gzip_path, dump.gzip_etag)
    else:
        response = Response(dumps.gzip_chunks(dump.path), mimetype=dump.media_type)
        response.set_etag(dump.gzip_etag)
        response.last_modified = dump.modified
        response.cache_control.public = True
        response.cache_control.max_age = CACHE_SECONDS
        response.headers.set("Content-Disposition", "attachment", filename=dump.name)
        response.make_conditional(request)
    response.headers["Content-Encoding"] = "gzip"
    return response
