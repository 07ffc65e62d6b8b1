"""Cross-origin reads: the rules, apart from any framework (the Flask hooks and the gateway both
apply them).

CORS is on for reads, from ``settings.cors_origins`` (``*`` by default, a list of origins, or
empty to switch it off): an answer to a GET, HEAD or POST query from an allowed origin says so;
update responses never do, and ``Authorization`` is never an allowed cross-origin header, so a
web page elsewhere cannot drive updates. When only some origins are allowed, answers vary by
``Origin`` as well as ``Accept``.
"""

from __future__ import annotations

from dataclasses import dataclass

from iomkg.config import Settings

#: Request headers a cross-origin read may carry (never Authorization).
ALLOWED_HEADERS = frozenset(
    {"accept", "accept-language", "content-language", "content-type", "cache-control"}
)
EXPOSED_HEADERS = "X-Row-Limit, Warning, ETag, Last-Modified, Content-Length"
METHODS = ("GET", "HEAD", "POST")
MAX_AGE_SECONDS = "600"


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may read, from the settings.

    >>> policy = CorsPolicy.of(Settings(cors_origins="https://a.example, https://b.example"))
    >>> policy.read_headers("https://a.example")[0]
    ('Access-Control-Allow-Origin', 'https://a.example')
    >>> policy.read_headers("https://c.example"), policy.vary
    ([], 'Accept, Origin')
    """

    origins: tuple[str, ...]

    @classmethod
    def of(cls, settings: Settings) -> CorsPolicy:
        return cls(cors_origins(settings))

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    @property
    def vary(self) -> str:
        """The ``Vary`` of answers: ``Origin`` too when only some origins may read."""
        return "Accept" if not self.origins or self.any_origin else "Accept, Origin"

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.any_origin or origin in self.origins)

    def read_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The headers of an answer to a read from ``origin`` (none if it may not read)."""
        if origin is None or not self.allows(origin):
            return []
        return [
            ("Access-Control-Allow-Origin", "*" if self.any_origin else origin),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        ]

    def preflight_headers(
        self, origin: str | None, method: str, requested_headers: str
    ) -> list[tuple[str, str]]:
        """The headers of the answer to an ``OPTIONS`` preflight (none: refused)."""
        wanted = [name.strip().lower() for name in requested_headers.split(",") if name.strip()]
        if (
            not self.allows(origin)
            or method.upper() not in METHODS
            or not all(name in ALLOWED_HEADERS for name in wanted)
        ):
            return []
        return [
            ("Access-Control-Allow-Origin", "*" if self.any_origin else str(origin)),
            ("Access-Control-Allow-Methods", ", ".join(METHODS)),
            ("Access-Control-Allow-Headers", ", ".join(sorted(ALLOWED_HEADERS))),
            ("Access-Control-Max-Age", MAX_AGE_SECONDS),
        ]


def cors_origins(settings: Settings) -> tuple[str, ...]:
    """The configured origins (comma or space separated); ``("*",)`` for any, ``()`` for none."""
    return tuple(item for item in settings.cors_origins.replace(",", " ").split() if item)
