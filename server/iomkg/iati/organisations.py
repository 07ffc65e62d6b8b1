"""Organisation references: from an IATI ``@ref`` to one node of the graph, never by name.

A reference resolves to an entity the graph already has only through a verified identifier:

1. the ``iomo:iatiOrganisationId`` of an organisation of ``data/reference`` (IOM is
   ``XM-DAC-47066``, Switzerland's SDC ``CH-4``, the UK's FCDO ``GB-GOV-1``, …);
2. ``XM-DAC-{donor code}``: the OECD DAC donor code of a country of ``data/reference``
   (``iomo:dacDonorCode``) names the state as a whole, so ``XM-DAC-8`` is ``id/country/NO``.

Otherwise the reference becomes an organisation of its own, ``id/organisation/iati/{ref}``, with
its identifier and the names the files give it, and with ``iomo:agencyOf`` its state where the
identifier says so by the IATI OrganisationRegistrationAgency rules:

* ``XM-DAC-{donor code}-{agency code}`` is an agency of that donor (the rule of the XM-DAC entry:
  "XM-DAC-1-8 identifies the Austrian (1) Development Agency (8)");
* a ``{ISO 3166 code}-{n}`` code of the retired Organisation Identifier list is a government body
  of that country (``NZ-1``, the New Zealand Ministry of Foreign Affairs and Trade);
* an identifier of a national register of government departments (``GB-GOV``, ``CA-GOV``,
  ``US-USAGOV``) is a government body of that register's country.

A reference without a usable identifier (none, or not of the form ``XX-…``) gets an organisation
local to its element, ``{reference node}/organisation``: two such references are never merged,
whatever their names say.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from iomkg.iati.codelists import Codelists

#: The shapes' rule for an IATI organisation identifier (shapes/agents.ttl).
IDENTIFIER = re.compile(r"^[A-Z]{2}-[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$")
_DAC_DONOR = re.compile(r"^XM-DAC-(\d{1,4})$")
_DAC_AGENCY = re.compile(r"^XM-DAC-(\d{1,4})-([A-Za-z0-9_.]+)$")
#: Registration agencies whose lists are the government departments of one country (their
#: OrganisationRegistrationAgency entries: "UK Government Departments Reference Numbers",
#: "List of legal department names (Government of Canada)", "Index of U.S. Government
#: Departments and Agencies").
GOVERNMENT_REGISTERS = {"GB-GOV": "GB", "CA-GOV": "CA", "US-USAGOV": "US"}


@dataclass(frozen=True)
class Resolution:
    """Where a reference points and why."""

    iri: str
    kind: str  # "reference" (an organisation of data/reference), "state", "minted"
    agency_of: str | None = None  # the country IRI, for minted agencies of a state
    rule: str = ""


@dataclass
class ProjectIndex:
    """What resolution needs from the project's graphs."""

    organisations: dict[str, str] = field(default_factory=dict)  # IATI id -> IRI
    donor_codes: dict[str, str] = field(default_factory=dict)  # DAC donor code -> country IRI
    countries: dict[str, str] = field(default_factory=dict)  # ISO alpha-2 -> country IRI
    country_names: dict[str, str] = field(default_factory=dict)  # country IRI -> English name


class Resolver:
    """Resolves ``@ref`` values against the project index and the shipped codelists."""

    def __init__(self, index: ProjectIndex, codelists: Codelists, base_iri: str) -> None:
        self.index = index
        self.base_iri = base_iri
        self.legacy = set(codelists.codes.get("OrganisationIdentifier", frozenset()))
        self.agencies = set(codelists.codes.get("OrganisationRegistrationAgency", frozenset()))

    def resolve(self, ref: str | None) -> Resolution | None:
        """The entity an identifier names, or None when ``ref`` is not a usable identifier."""
        if ref is None or not IDENTIFIER.match(ref):
            return None
        if ref in self.index.organisations:
            return Resolution(self.index.organisations[ref], "reference", rule="reference")
        donor = _DAC_DONOR.match(ref)
        if donor and donor.group(1) in self.index.donor_codes:
            country = self.index.donor_codes[donor.group(1)]
            return Resolution(country, "state", rule=f"DAC donor code {donor.group(1)}")
        minted = f"{self.base_iri}id/organisation/iati/{quote(ref, safe='')}"
        agency_of, rule = self._state_of(ref)
        return Resolution(minted, "minted", agency_of=agency_of, rule=rule)

    def state_of_reference(self, ref: str) -> tuple[str | None, str]:
        """For an organisation of the reference data, the state its IATI identifier makes it a
        body of: the DAC donor code alone (XM-DAC-7, which the reference names as the Dutch
        ministry) or any rule of :meth:`_state_of`."""
        donor = _DAC_DONOR.match(ref)
        if donor and donor.group(1) in self.index.donor_codes:
            country = self.index.donor_codes[donor.group(1)]
            return country, (
                f"{ref} is the identifier of OECD DAC donor {donor.group(1)} "
                f"({self.index.country_names.get(country, country)}) by the XM-DAC rule"
            )
        return self._state_of(ref)

    def _state_of(self, ref: str) -> tuple[str | None, str]:
        agency = _DAC_AGENCY.match(ref)
        if agency and agency.group(1) in self.index.donor_codes:
            country = self.index.donor_codes[agency.group(1)]
            return country, (
                f"{ref} is agency {agency.group(2)} of OECD DAC donor {agency.group(1)} "
                f"({self.index.country_names.get(country, country)}) by the XM-DAC rule"
            )
        iso = ref[:2]
        if ref in self.legacy and iso in self.index.countries:
            country = self.index.countries[iso]
            return country, (
                f"{ref} is a {self.index.country_names.get(country, iso)} government body "
                "of the IATI Organisation Identifier list"
            )
        for register, register_country in GOVERNMENT_REGISTERS.items():
            if (
                ref.startswith(register + "-")
                and register in self.agencies
                and register_country in self.index.countries
            ):
                country = self.index.countries[register_country]
                return country, (
                    f"{ref} is in {register}, the register of "
                    f"{self.index.country_names.get(country, register_country)}'s government "
                    "departments"
                )
        return None, ""


@dataclass(frozen=True)
class Mention:
    """One reference to an organisation with an identifier, as a file states it."""

    ref: str
    type_concept: str | None
    names: tuple[tuple[str, str | None], ...]  # (text, language)
    document: str  # IRI of the file (iomo:IatiFile) naming it


def is_english(language: str | None) -> bool:
    return language is not None and (language == "en" or language.startswith("en-"))


def choose_names(
    names: Iterable[tuple[str, str | None]],
) -> tuple[str | None, list[tuple[str, str]]]:
    """The English name given most often (ties: the first in sorted order), and every other
    name with a language, sorted: a deterministic choice whatever the order of the files."""
    counted = Counter((" ".join(text.split()), lang) for text, lang in names if text.strip())
    english = sorted(
        ((count, text) for (text, lang), count in counted.items() if is_english(lang)),
        key=lambda item: (-item[0], item[1]),
    )
    preferred = english[0][1] if english else None
    others = sorted(
        (text, lang)
        for (text, lang) in counted
        if lang is not None
        and not (preferred is not None and text == preferred and is_english(lang))
    )
    return preferred, others


def most_common(values: Iterable[str | None]) -> str | None:
    counted = Counter(v for v in values if v is not None)
    if not counted:
        return None
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[0][0]
