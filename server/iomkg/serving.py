"""``iomkg serve``: the current build over HTTP with gunicorn, every query in a killable process.

The arbiter (this process) starts the query evaluators' zygote once (:class:`IsolatedExecutor`,
which loads the build's store into memory), then gunicorn forks ``settings.workers`` worker
processes (threaded, ``THREADS_PER_WORKER`` requests at a time each). Each worker builds the
Flask app with :func:`iomkg.web.create_app` and gets evaluators of its own from the zygote, one
per thread. The app's store is an :class:`ExecutorStore`, so pages and the health check read
through the same time-limited evaluators as ``/sparql`` and see updates at once.

Gunicorn is driven through :class:`gunicorn.app.base.BaseApplication` with a dict of settings:
no shell string, no configuration file, no command line of its own. The web app writes one
access-log line per request (status, bytes, total and query time) to the ``iomkg.access``
logger, which goes to stdout; gunicorn's own messages go to stderr.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from iomkg.config import Settings
from iomkg.executor import ExecutorStore, IsolatedExecutor
from iomkg.store.base import StoreError
from iomkg.store.releases import Release, Releases

#: Requests each worker process serves at once (and evaluators it may run at once).
THREADS_PER_WORKER = 4
#: Gunicorn's longest request line: longer SPARQL must be sent by POST.
MAX_REQUEST_LINE = 8190

WsgiApp = Callable[..., Any]


def bind_address(host: str, port: int) -> str:
    """``host:port`` as gunicorn wants it (IPv6 literals in brackets).

    >>> bind_address("127.0.0.1", 8000)
    '127.0.0.1:8000'
    >>> bind_address("::1", 8000)
    '[::1]:8000'
    """
    try:
        if ipaddress.ip_address(host.strip("[]")).version == 6:
            return f"[{host.strip('[]')}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def gunicorn_options(settings: Settings, threads: int = THREADS_PER_WORKER) -> dict[str, Any]:
    """Gunicorn's settings for ``settings`` (the dict :class:`GunicornServer` applies)."""
    return {
        "bind": [bind_address(settings.host, settings.port)],
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": threads,
        # A worker's main thread keeps beating while its threads wait on evaluators; a worker
        # silent for this long is hung, whatever its queries (they are stopped at their limit).
        "timeout": max(30, int(settings.query_timeout * 2) + 10),
        "graceful_timeout": max(10, int(settings.query_timeout) + 5),
        "keepalive": 5,
        "limit_request_line": MAX_REQUEST_LINE,
        "accesslog": None,  # the app logs each request itself, with its query time
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "iomkg",
        "control_socket_disable": True,  # gunicorn's runtime-control socket: not used, not exposed
        "preload_app": False,
    }


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn with its settings from a dict and the WSGI app from a factory (run per worker)."""

    def __init__(self, factory: Callable[[], WsgiApp], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self._factory()


def current_release(settings: Settings) -> Release:
    release = Releases(settings.store_root).current()
    if release is None:
        raise StoreError(f"no build in {settings.store_root} yet: run `iomkg build` first")
    return release


def make_app_factory(
    settings: Settings, executor: IsolatedExecutor, release: Release
) -> Callable[[], WsgiApp]:
    """What each gunicorn worker calls to build its Flask app."""

    def factory() -> WsgiApp:
        from iomkg.web import create_app
        from iomkg.web.ops import ACCESS_LOGGER

        _log_to_stdout(logging.getLogger(ACCESS_LOGGER))

        return create_app(
            settings, ExecutorStore(executor), executor=executor, dumps_dir=release.dumps_path
        )

    return factory


def _log_to_stdout(logger: logging.Logger) -> None:
    """One line per record on stdout, as gunicorn's own access log would be."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve(settings: Settings, threads: int = THREADS_PER_WORKER) -> None:
    """Serve the current build until gunicorn is stopped (SIGINT or SIGTERM)."""
    release = current_release(settings)
    executor = IsolatedExecutor(settings, release.store_path, workers=threads)
    try:
        server = GunicornServer(
            make_app_factory(settings, executor, release), gunicorn_options(settings, threads)
        )
        server.run()
    finally:
        executor.close()
