"""The stored PDF as a Factur-X hybrid: PDF/A-3B carrying the CII as `factur-x.xml`.

ReportLab draws the page (fonts embedded) and, in the same pass, writes what PDF/A-3 and
Factur-X need: an sRGB output intent, XMP metadata (PDF/A identification, the Factur-X extension
schema and its properties, a document ID derived from the invoice) and the XML as an associated
file (AFRelationship /Data). Dates are the issue date and ids derive from the document, so the
bytes stay a function of the invoice.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from lxml import etree
from PIL import ImageCms
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFCatalog,
    PDFDictionary,
    PDFInfo,
    PDFName,
    PDFStream,
    PDFString,
)
from reportlab.pdfgen.canvas import Canvas

FACTURX_FILENAME = "factur-x.xml"
FACTURX_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PRODUCER = "Hourglass (ReportLab)"
_NAMESPACE = uuid.UUID("8f6f2f5e-3b0c-4f1e-9a57-0c4b8a1d2e11")

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMP_NS = {
    "x": "adobe:ns:meta/",
    "rdf": RDF,
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "fx": FACTURX_NS,
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
}
_FX_PROPERTIES = (
    ("DocumentFileName", "name of the embedded XML invoice file"),
    ("DocumentType", "INVOICE"),
    ("Version", "The actual version of the Factur-X XML schema"),
    ("ConformanceLevel", "The conformance level of the embedded Factur-X data"),
)


@functools.cache
def srgb_profile() -> bytes:
    """Little CMS's sRGB profile, with its creation date pinned (it stamps the current time)."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes([0x07, 0xD0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # 2000-01-01 00:00:00
    return bytes(profile)


def _q(prefix: str, name: str) -> str:
    return f"{{{_XMP_NS[prefix]}}}{name}"


def _sub(parent: etree._Element, prefix: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(prefix, name))
    if text is not None:
        element.text = text
    return element


def xmp_packet(
    *,
    title: str,
    author: str,
    created: str,
    document_id: str,
    creator_tool: str | None = None,
    subject: str | None = None,
) -> bytes:
    """The XMP packet; PDF/A wants it to agree with the Info dictionary entry by entry."""
    meta = etree.Element(_q("x", "xmpmeta"), nsmap=_XMP_NS)
    rdf = _sub(meta, "rdf", "RDF")

    def description() -> etree._Element:
        node = _sub(rdf, "rdf", "Description")
        node.set(_q("rdf", "about"), "")
        return node

    dc = description()
    alt = _sub(_sub(dc, "dc", "title"), "rdf", "Alt")
    _sub(alt, "rdf", "li", title).set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
    _sub(_sub(_sub(dc, "dc", "creator"), "rdf", "Seq"), "rdf", "li", author)
    if subject:
        alt = _sub(_sub(dc, "dc", "description"), "rdf", "Alt")
        item = _sub(alt, "rdf", "li", subject)
        item.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
    basic = description()
    _sub(basic, "pdf", "Producer", PRODUCER)
    _sub(basic, "pdf", "Trapped", "False")  # ReportLab's Info says /Trapped /False
    if creator_tool:
        _sub(basic, "xmp", "CreatorTool", creator_tool)
    _sub(basic, "xmp", "CreateDate", created)
    _sub(basic, "xmp", "ModifyDate", created)
    _sub(basic, "xmp", "MetadataDate", created)
    _sub(basic, "xmpMM", "DocumentID", document_id)
    _sub(basic, "xmpMM", "InstanceID", document_id)
    pdfa = description()
    _sub(pdfa, "pdfaid", "part", "3")
    _sub(pdfa, "pdfaid", "conformance", "B")
    fx = description()
    _sub(fx, "fx", "DocumentFileName", FACTURX_FILENAME)
    _sub(fx, "fx", "DocumentType", "INVOICE")
    _sub(fx, "fx", "Version", "1.0")
    _sub(fx, "fx", "ConformanceLevel", "EN 16931")
    extension = description()
    schema = _sub(_sub(_sub(extension, "pdfaExtension", "schemas"), "rdf", "Bag"), "rdf", "li")
    schema.set(_q("rdf", "parseType"), "Resource")
    _sub(schema, "pdfaSchema", "schema", "Factur-X PDFA Extension Schema")
    _sub(schema, "pdfaSchema", "namespaceURI", FACTURX_NS)
    _sub(schema, "pdfaSchema", "prefix", "fx")
    properties = _sub(_sub(schema, "pdfaSchema", "property"), "rdf", "Seq")
    for name, text in _FX_PROPERTIES:
        item = _sub(properties, "rdf", "li")
        item.set(_q("rdf", "parseType"), "Resource")
        _sub(item, "pdfaProperty", "name", name)
        _sub(item, "pdfaProperty", "valueType", "Text")
        _sub(item, "pdfaProperty", "category", "external")
        _sub(item, "pdfaProperty", "description", text)
    body = etree.tostring(meta, encoding="UTF-8")
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + body
        + b'\n<?xpacket end="w"?>'
    )


def facturx_parts(
    cii_xml: bytes,
    *,
    title: str,
    author: str,
    issue_date: date,
    fingerprint: str,
) -> Callable[[Canvas], None]:
    """What makes ReportLab's document a PDF/A-3B with `cii_xml` attached as factur-x.xml,
    added to its canvas just before it is saved (`render_pdf(doc, finish=...)`).

    Written by ReportLab in the same pass as the page, rather than by reopening and rewriting
    the finished file: that rewrite (parse, new objects, save) cost more than the XMLs.
    """

    def finish(canvas: Canvas) -> None:
        document = canvas._doc
        created_pdf = f"D:{issue_date:%Y%m%d}000000Z"
        info = document.info
        info.__class__ = _PdfaInfo
        info.created = created_pdf
        info.title, info.author, info.producer = title, author, PRODUCER
        document._pdfVersion = (1, 7)
        catalog = document.Catalog
        catalog.__NoDefault__ = catalog.__Refs__ = [
            *PDFCatalog.__NoDefault__,
            "OutputIntents",
            "AF",
        ]

        profile = PDFStream(PDFDictionary({"N": 3}), srgb_profile())
        catalog.OutputIntents = PDFArray(
            [
                PDFDictionary(
                    {
                        "Type": PDFName("OutputIntent"),
                        "S": PDFName("GTS_PDFA1"),
                        "OutputConditionIdentifier": PDFString("sRGB IEC61966-2.1"),
                        "Info": PDFString("sRGB IEC61966-2.1"),
                        "DestOutputProfile": document.Reference(profile),
                    }
                )
            ]
        )
        checksum = hashlib.md5(cii_xml, usedforsecurity=False).hexdigest()
        embedded = PDFStream(
            PDFDictionary(
                {
                    "Type": PDFName("EmbeddedFile"),
                    "Subtype": "/text#2Fxml",  # the name text/xml, its slash escaped
                    "Params": PDFDictionary(
                        {
                            "Size": len(cii_xml),
                            "ModDate": PDFString(created_pdf),
                            "CheckSum": f"<{checksum}>",
                        }
                    ),
                }
            ),
            cii_xml,
        )
        embedded_ref = document.Reference(embedded)
        filespec = document.Reference(
            PDFDictionary(
                {
                    "Type": PDFName("Filespec"),
                    "F": PDFString(FACTURX_FILENAME),
                    "UF": PDFString(FACTURX_FILENAME),
                    "Desc": PDFString("Factur-X invoice (EN 16931)"),
                    "AFRelationship": PDFName("Data"),
                    "EF": PDFDictionary({"F": embedded_ref, "UF": embedded_ref}),
                }
            )
        )
        catalog.Names = PDFDictionary(
            {
                "EmbeddedFiles": PDFDictionary(
                    {"Names": PDFArray([PDFString(FACTURX_FILENAME), filespec])}
                )
            }
        )
        catalog.AF = PDFArray([filespec])
        packet = xmp_packet(
            title=title,
            author=author,
            created=f"{issue_date.isoformat()}T00:00:00Z",
            document_id=f"uuid:{uuid.uuid5(_NAMESPACE, fingerprint)}",
            creator_tool=info.creator or None,
            subject=info.subject or None,
        )
        # PDF/A: the metadata stream is never filtered.
        metadata = PDFStream(
            PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
            packet,
        )
        catalog.Metadata = metadata
        catalog.MarkInfo = PDFDictionary({"Marked": "false"})

    return finish


class _PdfaInfo(PDFInfo):  # type: ignore[misc]
    """The Info dictionary as PDF/A wants it beside the XMP: dates in UTC, no empty Keywords
    (the packet has none)."""

    created = ""

    def format(self, document: Any) -> bytes:
        entries = {
            "Title": PDFString(self.title),
            "Author": PDFString(self.author),
            "CreationDate": PDFString(self.created),
            "ModDate": PDFString(self.created),
            "Producer": PDFString(self.producer),
            "Creator": PDFString(self.creator),
            "Subject": PDFString(self.subject),
            "Trapped": PDFName(self.trapped),
        }
        return PDFDictionary(entries).format(document)  # type: ignore[no-any-return]
