"""Reading an e-invoice's figures back, as a buyer's software would (CII and UBL)."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


@dataclass(frozen=True)
class Figures:
    number: str
    type_code: str
    issue_date: str  # YYYYMMDD
    currency: str
    buyer_reference: str
    line_amounts: tuple[str, ...]
    line_total: str  # BT-106
    tax_basis: str  # BT-109
    tax: str  # BT-110
    grand_total: str  # BT-112
    prepaid: str  # BT-113 ("0" when absent)
    payable: str  # BT-115
    vat_category: str
    preceding_invoice: str | None


def _one(tree: etree._Element, path: str) -> str:
    found = tree.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return str(found[0]).strip()


def _maybe(tree: etree._Element, path: str) -> str | None:
    found = tree.xpath(path, namespaces=NS)
    return str(found[0]).strip() if found else None


def cii_figures(xml: bytes) -> Figures:
    t = etree.fromstring(xml)
    s = "//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    return Figures(
        number=_one(t, "//rsm:ExchangedDocument/ram:ID/text()"),
        type_code=_one(t, "//rsm:ExchangedDocument/ram:TypeCode/text()"),
        issue_date=_one(t, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString/text()"),
        currency=_one(t, "//ram:InvoiceCurrencyCode/text()"),
        buyer_reference=_one(t, "//ram:BuyerReference/text()"),
        line_amounts=tuple(
            str(x)
            for x in t.xpath(
                "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()",
                namespaces=NS,
            )
        ),
        line_total=_one(t, f"{s}/ram:LineTotalAmount/text()"),
        tax_basis=_one(t, f"{s}/ram:TaxBasisTotalAmount/text()"),
        tax=_one(t, f"{s}/ram:TaxTotalAmount/text()"),
        grand_total=_one(t, f"{s}/ram:GrandTotalAmount/text()"),
        prepaid=_maybe(t, f"{s}/ram:TotalPrepaidAmount/text()") or "0",
        payable=_one(t, f"{s}/ram:DuePayableAmount/text()"),
        vat_category=_one(
            t,
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()",
        ),
        preceding_invoice=_maybe(t, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()"),
    )


def ubl_figures(xml: bytes) -> Figures:
    t = etree.fromstring(xml)
    credit = etree.QName(t).localname == "CreditNote"
    m = "/*/cac:LegalMonetaryTotal"
    line = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    return Figures(
        number=_one(t, "/*/cbc:ID/text()"),
        type_code=_one(
            t, "/*/cbc:CreditNoteTypeCode/text()" if credit else "/*/cbc:InvoiceTypeCode/text()"
        ),
        issue_date=_one(t, "/*/cbc:IssueDate/text()").replace("-", ""),
        currency=_one(t, "/*/cbc:DocumentCurrencyCode/text()"),
        buyer_reference=_one(t, "/*/cbc:BuyerReference/text()"),
        line_amounts=tuple(
            str(x) for x in t.xpath(f"/*/{line}/cbc:LineExtensionAmount/text()", namespaces=NS)
        ),
        line_total=_one(t, f"{m}/cbc:LineExtensionAmount/text()"),
        tax_basis=_one(t, f"{m}/cbc:TaxExclusiveAmount/text()"),
        tax=_one(t, "/*/cac:TaxTotal/cbc:TaxAmount/text()"),
        grand_total=_one(t, f"{m}/cbc:TaxInclusiveAmount/text()"),
        prepaid=_maybe(t, f"{m}/cbc:PrepaidAmount/text()") or "0",
        payable=_one(t, f"{m}/cbc:PayableAmount/text()"),
        vat_category=_one(t, "/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()"),
        preceding_invoice=_maybe(
            t, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()"
        ),
    )


def figures(format: str, xml: bytes) -> Figures:
    return ubl_figures(xml) if format == "ubl" else cii_figures(xml)
