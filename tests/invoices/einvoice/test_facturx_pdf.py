"""The served PDF is a Factur-X PDF/A-3: its structure (pikepdf), and the buyer's view (the
`factur-x` library extracts factur-x.xml and reads the invoice back)."""

from __future__ import annotations

import io
import shutil
import subprocess

import pikepdf
import pytest
from facturx import get_facturx_xml_from_pdf
from fastapi.testclient import TestClient
from lxml import etree

from tests.invoices.billing.helpers import Headers
from tests.invoices.einvoice.readback import NS, cii_figures
from tests.invoices.einvoice.test_einvoice_api import STORIES, _issue
from tests.support.einvoice_validation import Validators


@pytest.fixture
def served(client: TestClient, finance: Headers) -> tuple[dict, bytes, bytes]:  # type: ignore[type-arg]
    _, invoice = _issue(client, finance, STORIES[0])
    pdf = client.get(f"/v1/invoices/{invoice['id']}/pdf", headers=finance).content
    cii = client.get(f"/v1/invoices/{invoice['id']}/e-invoice", headers=finance).content
    return invoice, pdf, cii


def test_pdfa3_structure(served: tuple[dict, bytes, bytes]) -> None:  # type: ignore[type-arg]
    _, pdf_bytes, cii = served
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        root = pdf.Root
        intent = root.OutputIntents[0]
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        assert profile.N == 3 and profile.read_bytes()[36:40] == b"acsp"  # an ICC profile
        xmp = etree.fromstring(root.Metadata.read_bytes())
        ns = {
            "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
            "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
            "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
            "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
        }
        assert xmp.xpath("//pdfaid:part/text()", namespaces=ns) == ["3"]
        assert xmp.xpath("//pdfaid:conformance/text()", namespaces=ns) == ["B"]
        assert xmp.xpath("//fx:DocumentFileName/text()", namespaces=ns) == ["factur-x.xml"]
        assert xmp.xpath("//fx:ConformanceLevel/text()", namespaces=ns) == ["EN 16931"]
        assert xmp.xpath("//pdfaSchema:prefix/text()", namespaces=ns) == ["fx"]
        assert xmp.xpath("//xmpMM:DocumentID/text()", namespaces=ns)[0].startswith("uuid:")
        (spec,) = list(root.AF)
        assert spec.AFRelationship == pikepdf.Name.Data and str(spec.UF) == "factur-x.xml"
        assert spec.EF.F.read_bytes() == cii  # the embedded XML is the served CII
        assert str(spec.EF.F.Subtype) == "/text/xml"
        fonts = [
            font
            for page in pdf.pages
            for font in page.Resources.Font.values()  # type: ignore[union-attr]
        ]
        assert fonts
        for font in fonts:
            descriptor = font.get("/FontDescriptor")
            assert descriptor is not None and "/FontFile2" in descriptor, font.BaseFont


def test_qpdf_finds_no_error(served: tuple[dict, bytes, bytes], tmp_path: object) -> None:  # type: ignore[type-arg]
    qpdf = shutil.which("qpdf")
    assert qpdf, "qpdf is installed by scripts/test"
    path = f"{tmp_path}/invoice.pdf"
    with open(path, "wb") as handle:
        handle.write(served[1])
    result = subprocess.run([qpdf, "--check", path], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buyers_view(served: tuple[dict, bytes, bytes], validators: Validators) -> None:  # type: ignore[type-arg]
    """What a buyer's software does: take factur-x.xml out of the PDF and read the invoice."""
    invoice, pdf_bytes, _ = served
    filename, xml = get_facturx_xml_from_pdf(pdf_bytes, check_xsd=True)
    assert filename == "factur-x.xml"
    assert validators.errors("cii", xml) == []
    read = cii_figures(xml)
    assert read.number == invoice["number"] and read.type_code == "380"
    assert read.issue_date == invoice["issue_date"].replace("-", "")
    tree = etree.fromstring(xml)
    due = tree.xpath("//ram:DueDateDateTime/udt:DateTimeString/text()", namespaces=NS)
    assert due == [invoice["due_date"].replace("-", "")]
    names = tree.xpath("//ram:SpecifiedTradeProduct/ram:Name/text()", namespaces=NS)
    assert names == [line["description"] for line in invoice["lines"]]
    assert list(read.line_amounts) == [line["amount"] for line in invoice["lines"]]
    assert (read.tax_basis, read.tax, read.payable) == (
        invoice["subtotal"],
        invoice["tax"],
        invoice["total"],
    )
