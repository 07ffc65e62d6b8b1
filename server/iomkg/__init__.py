"""iomkg: an open knowledge graph of IOM programmes, donors, member states and activities."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iomkg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
