"""``iomkg serve``: the current build over HTTP with gunicorn, every query in a killable process.

The arbiter (this process) starts the query evaluators' master once (:class:`IsolatedExecutor`:
it opens nothing but sockets; its evaluator opens the build's store read-only, in
milliseconds), then gunicorn forks ``settings.workers`` worker processes. Each runs
:class:`iomkg.serving.worker.IomkgWorker` (uvicorn's event loop and C HTTP parser, on uvloop, with
gunicorn's request limits) and the app of :func:`iomkg.web.create_asgi_app`: the gateway
answers ``/sparql`` and the saved-query API on the event loop through the endpoint core,
awaiting the evaluator (:data:`QUERIES_PER_WORKER` queries at once), and hands everything else
to the Flask app in a pool of :data:`FLASK_THREADS_PER_WORKER` threads. Flask's store is an
:class:`ExecutorStore`, so pages and the health check read through the same time-limited
evaluator as ``/sparql`` and see updates at once.

Each worker listens on a socket of its own (``SO_REUSEPORT``), so the kernel spreads new
connections over the workers; with one shared socket, the first worker to wake would take a
whole burst of connections (an event loop accepts many at once) and leave the others idle.

Gunicorn is driven through :class:`gunicorn.app.base.BaseApplication` with a dict of settings:
no shell string, no configuration file, no command line of its own. The app writes one
access-log line per request (status, bytes, total and query time) to the ``iomkg.access``
logger, which goes to stdout; gunicorn's own messages go to stderr.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer

from iomkg.config import Settings
from iomkg.serving.executor import ExecutorStore, IsolatedExecutor
from iomkg.serving.executor.direct import DirectExecutor
from iomkg.serving.service import ServingExecutor
from iomkg.serving.worker import STOP_SIGNALS
from iomkg.store.base import StoreError
from iomkg.store.releases import Release, Releases
from iomkg.store.remote import remote_store

#: Queries each worker process may have running at once in the evaluator (more wait their turn).
QUERIES_PER_WORKER = 4
#: Failed restarts of the evaluators' master in a row before the server gives up and stops.
RESTART_ATTEMPTS = 5
#: Requests each worker's Flask app (pages, API, updates) serves at once.
FLASK_THREADS_PER_WORKER = 4

AsgiApp = Callable[..., Any]


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


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Gunicorn's settings for ``settings`` (the dict :class:`GunicornServer` applies)."""
    return {
        "bind": [bind_address(settings.host, settings.port)],
        "workers": settings.workers,
        "worker_class": "iomkg.serving.worker.IomkgWorker",
        "reuse_port": True,  # a listening socket per worker (see the module docstring)
        # A worker's event loop keeps beating while its queries run in evaluators; a worker
        # silent for this long is hung, whatever its queries (they are stopped at their limit).
        "timeout": max(30, int(settings.query_timeout * 2) + 10),
        "graceful_timeout": max(10, int(settings.query_timeout) + 5),
        "keepalive": 5,
        "accesslog": None,  # the app logs each request itself, with its query time
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "iomkg",
        "control_socket_disable": True,  # gunicorn's runtime-control socket: not used, not exposed
        "preload_app": False,
        "when_ready": _announce(settings),
    }


def _without_empty_listening_line(record: logging.LogRecord) -> bool:
    """Drop gunicorn's "Listening at:  (pid)": with a socket per worker its main process listens
    on nothing, and the line, empty, looked like a failure (``when_ready`` says where instead)."""
    return not (
        record.msg == "Listening at: %s (%s)"
        and isinstance(record.args, tuple)
        and not record.args[0]
    )


def _announce(settings: Settings) -> Callable[[Any], None]:
    """gunicorn's hook once it runs: one line that says where (its own "Listening at" is empty
    when each worker opens its own socket)."""
    url = f"http://{bind_address(settings.host, settings.port)}/"

    def when_ready(server: Any) -> None:
        server.log.info("iomkg: serving on %s with %d worker(s)", url, settings.workers)

    return when_ready


class EvaluatorKeepingArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's arbiter, which also keeps the query evaluators' master running.

    gunicorn restarts a worker that dies, but knows nothing of the master; killed (SIGKILL, the
    OOM killer), it would leave the workers unable to start an evaluator, every query failing
    until someone restarted the server. The arbiter's loop (once a second, and on every child's
    exit) checks it, and starts it again as it does a worker: logged, and with the dataset as
    the store on disk has it. If it cannot (the store is gone), the server stops.
    """

    def __init__(self, app: GunicornServer) -> None:
        super().__init__(app)
        self.executor = app.executor
        self.failed_restarts = 0

    def manage_workers(self) -> None:
        try:
            revived = self.executor.revive_if_gone()
        except StoreError as error:
            # Killed again while it starts, say: try again on the next turn of the loop, and
            # give up only when it keeps failing.
            self.failed_restarts += 1
            if self.failed_restarts >= RESTART_ATTEMPTS:
                raise HaltServer(
                    f"the query evaluators could not be restarted ({RESTART_ATTEMPTS} attempts): "
                    f"{error}",
                    1,
                ) from error
            self.log.error(
                "iomkg: the query evaluators could not be restarted (attempt %d of %d, the next "
                "in a second): %s",
                self.failed_restarts,
                RESTART_ATTEMPTS,
                error,
            )
        else:
            if revived:
                self.log.error("iomkg: the query evaluators' process had stopped: restarted it")
            self.failed_restarts = 0
        super().manage_workers()

    def spawn_worker(self) -> int:
        """gunicorn's fork of a worker, with the stop signals blocked across it (see
        :mod:`iomkg.serving.worker`): the worker unblocks them once it can act on them, and this
        process right after the fork, so a stop during the fork reaches both."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            return int(super().spawn_worker())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn with its settings from a dict and the app from a factory (run per worker).

    ``settings`` is what :class:`iomkg.serving.worker.IomkgWorker` reads its connection limits from
    (gunicorn hands every worker this object as ``worker.app``); ``executor`` is what
    :class:`EvaluatorKeepingArbiter` keeps running.
    """

    def __init__(
        self,
        factory: Callable[[], AsgiApp],
        options: dict[str, Any],
        settings: Settings,
        executor: ServingExecutor,
    ) -> None:
        self._factory = factory
        self._options = options
        self.settings = settings
        self.executor = executor
        super().__init__()

    def run(self) -> None:
        """gunicorn's main loop, with :class:`EvaluatorKeepingArbiter` for its own."""
        try:
            EvaluatorKeepingArbiter(self).run()
        except RuntimeError as error:  # gunicorn's way of saying it cannot start
            raise StoreError(f"the server could not start: {error}") from error

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        logging.getLogger("gunicorn.error").addFilter(_without_empty_listening_line)

    def load(self) -> AsgiApp:
        return self._factory()


def current_release(settings: Settings) -> Release:
    return Releases(settings.store_root).require_current()


def make_app_factory(
    settings: Settings, executor: ServingExecutor, release: Release
) -> Callable[[], AsgiApp]:
    """What each gunicorn worker calls to build its app."""

    def factory() -> AsgiApp:
        from iomkg.web import create_asgi_app
        from iomkg.web.ops import ACCESS_LOGGER

        _log_to_stdout(logging.getLogger(ACCESS_LOGGER))

        return create_asgi_app(
            settings,
            ExecutorStore(executor),
            executor,
            dumps_dir=release.dumps_path,
            flask_threads=FLASK_THREADS_PER_WORKER,
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


def ensure_port_free(host: str, port: int) -> None:
    """Refuse a port another server holds. Each worker binds with ``SO_REUSEPORT``, which would
    let a second ``iomkg serve`` on the same port silently share its connections with the first;
    a plain bind (as any other server does) fails when the port is taken, so try one first."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT, as gunicorn
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise StoreError(
                f"cannot listen on {bind_address(host, port)}: {error.strerror or error} "
                "(is another server using it? stop it, or choose another --port)"
            ) from error


def serving_executor(settings: Settings, release: Release) -> ServingExecutor:
    """The remote engine's executor with ``--backend``, else the embedded evaluator's."""
    if settings.backend is not None:
        return DirectExecutor(settings, remote_store(settings), workers=QUERIES_PER_WORKER)
    return IsolatedExecutor(settings, release.versions.base, workers=QUERIES_PER_WORKER)


def serve(settings: Settings) -> None:
    """Serve the current build until gunicorn is stopped (SIGINT or SIGTERM)."""
    release = current_release(settings)
    ensure_port_free(settings.host, settings.port)
    hold = release.hold()  # a later build must not prune what this server reads and writes
    try:
        executor = serving_executor(settings, release)
    except BaseException:
        hold.close()
        raise
    try:
        server = GunicornServer(
            make_app_factory(settings, executor, release),
            gunicorn_options(settings),
            settings,
            executor,
        )
        server.run()
    finally:
        executor.close()
        hold.close()
