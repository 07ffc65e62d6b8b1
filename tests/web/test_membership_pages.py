"""The pages of IOM and of a member state show each membership's years and source, and the
graph's count of member states against the 175 IOM states (in-process, the seed store)."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.web import create_app
from tests.conftest import SHARED_DIR, requires_shared

pytestmark = requires_shared

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
COW = "Correlates of War IGO data, version 3.0"


@pytest.fixture
def client(seed_store: OxigraphStore, tmp_path: Path) -> FlaskClient:
    app: Flask = create_app(
        Settings(store_dir=tmp_path / "none"), seed_store, dumps_dir=tmp_path / "no"
    )
    app.testing = True
    return app.test_client()


def section(client: FlaskClient, path: str) -> str:
    """The visible text of the page's "Membership of IOM" section ('' if it has none)."""
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code == 200, response.text
    found = re.search(r'<section class="memberships">(.*?)</section>', response.text, re.S)
    if found is None:
        return ""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))))


def cow_spells(iso: str | None) -> list[str]:
    """The spells COW codes for a state (``None``: for every state)."""
    path = SHARED_DIR / "reference" / "iom_membership_cow_igo_v3_1951-2014.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if iso in (None, r["iso2"])]
    return [spell for row in rows for spell in row["spells"].split(";")]


COUNT = f"The graph lists 155 states as members of IOM, against the 175 member states IOM states: 155 from {COW} ."  # noqa: E501


def test_iom_page_lists_every_member_with_start_year_and_source(client: FlaskClient) -> None:
    text = section(client, "/id/organisation/iom")
    assert COUNT in text
    assert text.count(f"{COW} ( membership )") == len(cow_spells(None))  # one row per spell
    assert f"Norway 1951 still a member {COW}" in text
    assert f"Serbia 2004 still a member {COW}" in text  # COW codes it as Yugoslavia from 2004


def test_a_country_page_shows_its_spells_and_the_count(client: FlaskClient) -> None:
    assert cow_spells("GB") == ["1965-1968", "2002-2014"]
    text = section(client, "/id/country/GB")
    assert COUNT in text
    assert f"United Kingdom 1965 1968 {COW}" in text
    assert f"United Kingdom 2002 still a member {COW}" in text
    assert "Norway" not in text


def test_a_page_without_memberships_has_no_section(client: FlaskClient) -> None:
    assert section(client, "/id/organisation/nato") == ""
