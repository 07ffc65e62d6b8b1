"""Settings, read once from ``IOMKG_*`` environment variables and command-line flags.

Everything configurable lives in one frozen :class:`Settings`; nothing reads the
environment anywhere else, so tests build the settings they need and pass them in.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_BASE_IRI = "https://w3id.org/iomkg/"


def _default_project_dir() -> Path:
    """The repository checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[2]


class SettingsError(ValueError):
    """A setting has a value that cannot work; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything iomkg can be told, with defaults that work on a fresh clone.

    >>> Settings(base_iri="http://example.org/kg/").graph_iri("sources/a")
    'http://example.org/kg/graph/sources/a'
    """

    base_iri: str = DEFAULT_BASE_IRI
    project_dir: Path = field(default_factory=_default_project_dir)
    store_dir: Path | None = None
    shared_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    query_timeout: float = 30.0
    client_timeout: float = 30.0
    max_rows: int = 100_000
    #: A release of at most this many quads is served from memory (one copy, made before the
    #: evaluator forks, about 350 bytes a quad: 5-8x faster on heavy queries than RocksDB),
    #: a larger one from disk (RocksDB, pages shared through the page cache). 0: always disk.
    memory_quads: int = 500_000
    max_request_bytes: int = 1_000_000
    update_token: str | None = None
    allow_anonymous_updates: bool = False
    service_allowlist: tuple[str, ...] = ()
    cors_origins: str = "*"
    #: A SPARQL 1.1 engine's query endpoint to publish builds to and serve from (None: the
    #: embedded store). Oxigraph and Virtuoso are recognised by their ``Server`` header.
    backend: str | None = None
    frontend_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.base_iri.endswith(("/", "#")):
            raise SettingsError(
                f"base IRI {self.base_iri!r} must end with '/' or '#' "
                "so that relative IRIs resolve under it"
            )
        if self.query_timeout <= 0:
            raise SettingsError("query timeout must be a positive number of seconds")
        if self.client_timeout <= 0:
            raise SettingsError("client timeout must be a positive number of seconds")
        if self.max_rows <= 0:
            raise SettingsError("max rows must be a positive integer")
        if self.memory_quads < 0:
            raise SettingsError("memory quads must be 0 (always on disk) or a positive integer")
        if self.workers < 1:
            raise SettingsError("workers must be at least 1")
        if self.backend is not None and not self.backend.startswith(("http://", "https://")):
            raise SettingsError(
                f"--backend {self.backend!r} is not an http(s) URL: give the engine's SPARQL "
                "query endpoint, such as http://127.0.0.1:7878/query"
            )
        if self.allow_anonymous_updates and not is_loopback(self.host):
            raise SettingsError(
                "--allow-anonymous-updates is only allowed on a loopback address, "
                f"not {self.host!r}; "
                "use --update-token instead"
            )

    # Paths --------------------------------------------------------------------------------
    @property
    def store_root(self) -> Path:
        """Where builds live (git-ignored): ``var/store`` in the project unless told otherwise."""
        return self.store_dir if self.store_dir is not None else self.project_dir / "var" / "store"

    @property
    def ontology_dir(self) -> Path:
        return self.project_dir / "ontology"

    @property
    def data_dir(self) -> Path:
        return self.project_dir / "data"

    @property
    def shapes_dir(self) -> Path:
        return self.project_dir / "shapes"

    @property
    def queries_dir(self) -> Path:
        return self.project_dir / "queries"

    @property
    def frontend_modules(self) -> Path:
        """The front-end packages (``npm ci`` in ``server/iomkg/web/frontend``) the pages use."""
        if self.frontend_dir is not None:
            return self.frontend_dir
        return Path(__file__).resolve().parent / "web" / "frontend" / "node_modules"

    @property
    def shared_root(self) -> Path:
        return (
            self.shared_dir if self.shared_dir is not None else self.project_dir.parent / "shared"
        )

    # IRIs ---------------------------------------------------------------------------------
    @property
    def ontology_iri(self) -> str:
        return self.base_iri + "ontology"

    def graph_iri(self, name: str) -> str:
        return f"{self.base_iri}graph/{name}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced; ``None`` values are ignored (flag not given)."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **given)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``IOMKG_<FIELD>`` variables, then explicit overrides (flags) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = env.get("IOMKG_" + setting.name.upper())
            if raw is None or raw == "":
                continue
            values[setting.name] = _coerce(setting.name, raw)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


_PATH_FIELDS = {"project_dir", "store_dir", "shared_dir", "frontend_dir"}
_INT_FIELDS = {"port", "workers", "max_rows", "memory_quads", "max_request_bytes"}
_FLOAT_FIELDS = {"query_timeout", "client_timeout"}
_BOOL_FIELDS = {"allow_anonymous_updates"}
_LIST_FIELDS = {"service_allowlist"}


def _coerce(name: str, raw: str) -> Any:
    try:
        if name in _PATH_FIELDS:
            return Path(raw)
        if name in _INT_FIELDS:
            return int(raw)
        if name in _FLOAT_FIELDS:
            return float(raw)
        if name in _BOOL_FIELDS:
            if raw.lower() not in {"1", "true", "yes", "0", "false", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if name in _LIST_FIELDS:
            return tuple(item for item in raw.replace(",", " ").split() if item)
    except ValueError as error:
        raise SettingsError(f"IOMKG_{name.upper()}={raw!r} is not a valid value") from error
    return raw


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: where anonymous updates are safe."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
