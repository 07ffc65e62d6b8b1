"""Which IATI codelist governs which coded attribute, and the codes each list holds.

The rules come from the codelists' own ``mapping.xml`` (``//iati-activity/sector/@code`` is
Sector when ``@vocabulary = '1' or not(@vocabulary)``, SectorCategory when it is '2', …) and the
codes from the codelist files in ``shared/iati/codelists``. ``iomkg generate`` condenses both into
``standard/codelists.json`` (CC BY 4.0, like its source), which travels with the package: an
import needs neither ``shared/`` nor the network. A code links to its SKOS concept
(``id/codelist/iati/{List}/{code}``, generated into ``data/codelists/``) only when that list was
generated and holds the code; otherwise it stays a literal and the import says so.
"""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iomkg.iati.schema import STANDARD_DIR

CODELISTS_JSON = STANDARD_DIR / "codelists.json"

#: The IATI codelists generated as SKOS graphs (data/codelists/iati-{name}.ttl): every list that
#: mapping.xml assigns to an attribute of the activity standard and shared/iati/codelists holds.
GENERATED = (
    "ActivityDateType",
    "ActivityScope",
    "ActivityStatus",
    "AidType",
    "BudgetStatus",
    "BudgetType",
    "CollaborationType",
    "Country",
    "Currency",
    "DescriptionType",
    "FinanceType",
    "FlowType",
    "GeographicVocabulary",
    "Language",
    "LocationType",
    "OrganisationRole",
    "OrganisationType",
    "OtherIdentifierType",
    "PolicyMarker",
    "Region",
    "RegionVocabulary",
    "RelatedActivityType",
    "Sector",
    "SectorCategory",
    "SectorVocabulary",
    "TransactionType",
)

#: Lists the importer reads without generating them as SKOS: the retired Organisation Identifier
#: list (government agencies as {ISO 3166 country}-{n}, e.g. CH-4) and the registration agencies.
LOOKUP_ONLY = ("OrganisationIdentifier", "OrganisationRegistrationAgency")

_PATH = re.compile(r"^//iati-activity((?:/[a-z-]+)*)/@([a-z:-]+)$")
_CONDITION = re.compile(r"^@vocabulary = '([^']+)'( or not\(@vocabulary\))?$")


@dataclass(frozen=True)
class Rule:
    """One line of mapping.xml for the activity standard: attribute → codelist, when."""

    element: str  # element path below iati-activity, "" for iati-activity itself
    attribute: str
    codelist: str
    vocabulary: str | None  # the @vocabulary value the rule needs, None: always
    or_no_vocabulary: bool  # the rule also holds when @vocabulary is absent

    def applies(self, vocabulary: str | None) -> bool:
        if self.vocabulary is None:
            return True
        if vocabulary is None:
            return self.or_no_vocabulary
        return vocabulary == self.vocabulary


@dataclass(frozen=True)
class Codelists:
    """The rules and the code sets, as shipped with the package."""

    rules: tuple[Rule, ...]
    codes: dict[str, frozenset[str]]
    withdrawn: dict[str, frozenset[str]]
    names: dict[str, dict[str, str]]  # lookup-only lists: code -> English name

    def codelist_for(self, element: str, attribute: str, vocabulary: str | None) -> str | None:
        """The codelist of ``element/@attribute`` given its ``@vocabulary`` (mapping.xml's)."""
        for rule in self.rules:
            if rule.element == element and rule.attribute == attribute and rule.applies(vocabulary):
                return rule.codelist
        return None

    def is_generated(self, codelist: str) -> bool:
        return codelist in GENERATED and codelist in self.codes

    def holds(self, codelist: str, code: str) -> bool:
        return code in self.codes.get(codelist, frozenset())


def concept_iri(base_iri: str, codelist: str, code: str) -> str:
    """The SKOS concept of a code, as ``iomkg.reference.codelist_graph`` mints it."""
    return f"{base_iri}id/codelist/iati/{codelist}/{code}"


def code_of(base_iri: str, iri: str) -> tuple[str, str] | None:
    """(codelist, code) of a concept IRI made by :func:`concept_iri`, else None."""
    prefix = f"{base_iri}id/codelist/iati/"
    if not iri.startswith(prefix):
        return None
    name, _, code = iri[len(prefix) :].partition("/")
    return (name, code) if code else None


@functools.cache
def shipped(path: Path = CODELISTS_JSON) -> Codelists:
    """The codelists that travel with the package."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Codelists(
        rules=tuple(Rule(**rule) for rule in data["rules"]),
        codes={name: frozenset(codes) for name, codes in data["codes"].items()},
        withdrawn={name: frozenset(codes) for name, codes in data["withdrawn"].items()},
        names=data["names"],
    )


# Generation from shared/iati/codelists ---------------------------------------------------------


def read_rules(mapping_xml: Path) -> list[Rule]:
    """The rules of mapping.xml that concern attributes of the activity standard."""
    root = ET.parse(mapping_xml).getroot()  # noqa: S314 - the project's own shared/ input
    rules = []
    for mapping in root.iter("mapping"):
        match = _PATH.match((mapping.findtext("path") or "").strip())
        codelist = mapping.find("codelist")
        if not match or codelist is None:
            continue
        elements, attribute = match.groups()
        condition = (mapping.findtext("condition") or "").strip()
        vocabulary, or_none = None, False
        if condition:
            parsed = _CONDITION.match(condition)
            if parsed is None:
                raise ValueError(f"mapping.xml: condition not understood: {condition!r}")
            vocabulary, or_none = parsed.group(1), parsed.group(2) is not None
        rules.append(
            Rule(
                element=elements.strip("/"),
                attribute=attribute,
                codelist=codelist.get("ref", ""),
                vocabulary=vocabulary,
                or_no_vocabulary=or_none,
            )
        )
    return rules


def render_json(codelists_dir: Path) -> str:
    """``standard/codelists.json`` from shared/iati/codelists: deterministic, diff-friendly."""
    codes: dict[str, list[str]] = {}
    withdrawn: dict[str, list[str]] = {}
    names: dict[str, dict[str, str]] = {}
    for name in (*GENERATED, *LOOKUP_ONLY):
        root = ET.parse(codelists_dir / f"{name}.xml").getroot()  # noqa: S314
        items = list(root.iter("codelist-item"))
        codes[name] = sorted({" ".join((i.findtext("code") or "").split()) for i in items})
        withdrawn[name] = sorted(
            {
                " ".join((i.findtext("code") or "").split())
                for i in items
                if i.get("status") == "withdrawn"
            }
        )
        if name in LOOKUP_ONLY:
            names[name] = {
                " ".join((i.findtext("code") or "").split()): " ".join(
                    (i.findtext("name/narrative") or "").split()
                )
                for i in items
            }
    document: dict[str, Any] = {
        "source": "shared/iati/codelists (IATI/IATI-Codelists and IATI-Codelists-NonEmbedded)",
        "licence": "CC BY 4.0, https://creativecommons.org/licenses/by/4.0/",
        "generated_by": "iomkg generate: do not edit",
        "rules": [rule.__dict__ for rule in read_rules(codelists_dir / "mapping.xml")],
        "codes": codes,
        "withdrawn": withdrawn,
        "names": names,
    }
    return json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
