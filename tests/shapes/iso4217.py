"""The ISO 4217 codes of the IATI Currency codelist, for the ``sh:in`` list of shapes/money.ttl.

Run ``python tests/shapes/iso4217.py [path/to/Currency.xml]`` to print the Turtle list to paste
into ``iomsh:MonetaryAmount-currency``; ``test_shapes.py`` checks that the list in the shapes
still equals the codes of the codelist (the XML in shared/ and the generated
data/codelists/iati-Currency.ttl), so the two cannot drift apart silently.
Withdrawn codes (EEK, LTL, LVL, ...) are kept: an amount of 2006-2012 may well be stated in one.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

DEFAULT_XML = Path(__file__).resolve().parents[3] / "shared" / "iati" / "codelists" / "Currency.xml"


def codes_from_iati_xml(path: Path) -> list[str]:
    """The sorted codes of an IATI codelist XML file.

    >>> import tempfile, os
    >>> xml = "<codelist><codelist-items><codelist-item><code>EUR</code></codelist-item>"
    >>> xml += "<codelist-item status='withdrawn'><code>EEK</code></codelist-item>"
    >>> xml += "</codelist-items></codelist>"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
    ...     _ = f.write(xml)
    >>> codes_from_iati_xml(Path(f.name))
    ['EEK', 'EUR']
    >>> os.unlink(f.name)
    """
    root = ET.parse(path).getroot()
    return sorted(item.findtext("code", "").strip() for item in root.iter("codelist-item"))


def turtle_list(codes: list[str], per_line: int = 12) -> str:
    """The codes as a Turtle collection of strings, ``per_line`` codes per line.

    >>> print(turtle_list(["AED", "AFN", "ALL"], per_line=2))
    (
        "AED" "AFN"
        "ALL"
    )
    """
    rows = [codes[i : i + per_line] for i in range(0, len(codes), per_line)]
    body = "\n".join("    " + " ".join(f'"{code}"' for code in row) for row in rows)
    return f"(\n{body}\n)"


if __name__ == "__main__":
    print(turtle_list(codes_from_iati_xml(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_XML)))
