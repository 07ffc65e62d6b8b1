"""A small threaded server for development and tests: ``python -m iomkg.web.devserver --store DIR``.

It runs the same Flask app over the same executor as ``iomkg serve`` (killable evaluators, or the
remote engine with ``--backend``; the same row cap and time limit), in one threaded werkzeug
process instead of gunicorn's workers and the ASGI gateway: for development, and for the tests
that need a second server.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from iomkg.config import Settings, SettingsError
from iomkg.serving.executor import ExecutorStore
from iomkg.serving.server import current_release, serving_executor
from iomkg.store import StoreError
from iomkg.web import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m iomkg.web.devserver", description=__doc__)
    parser.add_argument("--store", type=Path, help="store folder (as `iomkg --store`)")
    parser.add_argument("--base", dest="base_iri", help="base namespace of the graph's IRIs")
    parser.add_argument("--host", default=None, help="address to bind [127.0.0.1]")
    parser.add_argument("--port", type=int, default=None, help="port [8000]")
    parser.add_argument(
        "--update-token", default=None, help="allow updates sent with Authorization: Bearer TOKEN"
    )
    parser.add_argument(
        "--allow-anonymous-updates",
        action="store_true",
        default=None,
        help="allow updates without a token (loopback addresses only)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # iomkg.access logs each request
    try:
        settings = Settings.from_env(
            store_dir=args.store,
            base_iri=args.base_iri,
            host=args.host,
            port=args.port,
            update_token=args.update_token,
            allow_anonymous_updates=args.allow_anonymous_updates,
        )
        release = current_release(settings)
        hold = release.hold()  # a later build must not prune what this server reads
        executor = serving_executor(settings, release)
    except (SettingsError, StoreError) as error:
        print(f"devserver: {error}", file=sys.stderr)
        return 2
    app = create_app(settings, ExecutorStore(executor), executor, dumps_dir=release.dumps_path)
    server = make_server(settings.host, settings.port, app, threaded=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"serving {release.name} on http://{settings.host}:{server.server_port}/",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        executor.close()
        hold.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
