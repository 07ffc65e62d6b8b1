"""iomkg: an open knowledge graph of IOM programmes, donors, member states and activities."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__`` on first use (PEP 562): importlib.metadata costs every process that imports
    any part of the package (the query evaluators' master among them) a tenth of a second."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iomkg")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"
