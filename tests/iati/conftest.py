"""Stores with the IATI samples of ../shared imported once per session, and counting in the XML.

The XML side is counted here with lxml directly from the files, independently of the importer,
so the graph side is compared with what the files hold, not with what the importer read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from lxml import etree

from iomkg.config import Settings
from tests.conftest import PROJECT_DIR, SHARED_DIR, run

IATI_DIR = SHARED_DIR / "iati"
SAMPLES = IATI_DIR / "samples"
PAGE_109 = SAMPLES / "dportal-covid19-page-109.xml"
PAGE_110 = SAMPLES / "dportal-covid19-page-110.xml"
EXAMPLE = IATI_DIR / "iati-2.03-activity-standard-example-annotated.xml"
IOM_ACTIVITY = IATI_DIR / "iom_activity_XM-DAC-47066-DP.2154.xml"
ALL_FILES = (PAGE_109, PAGE_110, EXAMPLE, IOM_ACTIVITY)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class XmlCounts:
    """What one activity file holds, per activity identifier (counted with lxml)."""

    activities: Counter[str]
    transactions: Counter[str]
    budgets: Counter[str]
    participating_orgs: Counter[str]
    narratives: dict[str, Counter[str | None]]  # identifier -> language -> narratives

    def total(self, what: str, leave_out: frozenset[str] = frozenset()) -> int:
        counter: Counter[str] = getattr(self, what)
        return sum(n for identifier, n in counter.items() if identifier not in leave_out)

    def languages(self, leave_out: frozenset[str] = frozenset()) -> Counter[str | None]:
        found: Counter[str | None] = Counter()
        for identifier, counter in self.narratives.items():
            if identifier not in leave_out:
                found.update(counter)
        return found


def xml_counts(path: Path) -> XmlCounts:
    root = etree.parse(str(path)).getroot()
    activities = [root] if etree.QName(root).localname == "iati-activity" else list(root)
    counts = XmlCounts(Counter(), Counter(), Counter(), Counter(), {})
    root_lang = root.get(XML_LANG)
    for activity in activities:
        if not isinstance(activity.tag, str) or etree.QName(activity).localname != "iati-activity":
            continue
        identifier = (activity.findtext("iati-identifier") or "").strip()
        counts.activities[identifier] += 1
        counts.transactions[identifier] += len(activity.findall("transaction"))
        counts.budgets[identifier] += len(activity.findall("budget"))
        counts.participating_orgs[identifier] += len(activity.findall("participating-org"))
        default = activity.get(XML_LANG) or root_lang
        languages: Counter[str | None] = Counter()
        for narrative in activity.iter("narrative"):
            lang = narrative.get(XML_LANG) or default
            languages[lang.lower() if lang else None] += 1
        counts.narratives[identifier] = languages
    return counts


@dataclass(frozen=True)
class Imported:
    settings: Settings
    result: Result
    seconds: float


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """A store built from the project, then every IATI file of ../shared imported in one go."""
    settings = Settings(
        project_dir=PROJECT_DIR,
        store_dir=tmp_path_factory.mktemp("iati") / "store",
        shared_dir=SHARED_DIR,
    )
    started = time.perf_counter()
    result = run(settings, "import", "iati", *(str(path) for path in ALL_FILES))
    assert result.exit_code == 0, result.output
    yield Imported(settings, result, time.perf_counter() - started)
