"""Fixtures every shape test module uses: pySHACL's SPARQL parsing cached, the shapes parsed once
per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rdflib import Graph

from iomkg.shacl import cached_sparql_parsing

from .harness import parse_turtle, shape_files


@pytest.fixture(scope="module", autouse=True)
def _fast_sparql() -> Iterator[None]:
    with cached_sparql_parsing():
        yield


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return parse_turtle(shape_files())
