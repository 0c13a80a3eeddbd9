"""UN/CEFACT Cross Industry Invoice (D16B) for Factur-X EN 16931 and the XRechnung CIUS.

Built with lxml element by element, in the schema's order; the same `EInvoice` always gives
the same bytes.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from lxml import etree

from invoices.einvoice.amounts import amount, decimal_text
from invoices.einvoice.model import REVERSE_CHARGE_CODE, REVERSE_CHARGE_REASON, EInvoice, Party

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "qdt": QDT, "ram": RAM, "udt": UDT}

FACTURX_EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG_3 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

Profile = Literal["en16931", "xrechnung"]


def _el(
    parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs or None)
    if text is not None:
        element.text = text
    return element


def _ram(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    return _el(parent, RAM, tag, text, **attrs)


def _date(parent: etree._Element, tag: str, day: date) -> None:
    _el(_ram(parent, tag), UDT, "DateTimeString", day.strftime("%Y%m%d"), format="102")


def _party(parent: etree._Element, tag: str, party: Party, *, contact: bool) -> None:
    node = _ram(parent, tag)
    _ram(node, "Name", party.name)
    if contact and (party.contact_name or party.phone or party.email):
        person = _ram(node, "DefinedTradeContact")
        if party.contact_name:
            _ram(person, "PersonName", party.contact_name)
        if party.phone:
            _ram(_ram(person, "TelephoneUniversalCommunication"), "CompleteNumber", party.phone)
        if party.email:
            _ram(_ram(person, "EmailURIUniversalCommunication"), "URIID", party.email)
    address = _ram(node, "PostalTradeAddress")
    if party.postal_code:
        _ram(address, "PostcodeCode", party.postal_code)
    if party.street:
        _ram(address, "LineOne", party.street)
    if party.city:
        _ram(address, "CityName", party.city)
    _ram(address, "CountryID", party.country)
    if party.email:
        _ram(_ram(node, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if party.vat_id:
        _ram(_ram(node, "SpecifiedTaxRegistration"), "ID", party.vat_id, schemeID="VA")


def _tax(parent: etree._Element, invoice: EInvoice, *, header: bool) -> None:
    tax = _ram(parent, "ApplicableTradeTax")
    if header:
        _ram(tax, "CalculatedAmount", amount(invoice.tax_minor, invoice.currency))
    _ram(tax, "TypeCode", "VAT")
    if header and invoice.vat_category == "AE":
        _ram(tax, "ExemptionReason", REVERSE_CHARGE_REASON)
    if header:
        _ram(tax, "BasisAmount", amount(invoice.tax_basis_minor, invoice.currency))
    _ram(tax, "CategoryCode", invoice.vat_category)
    if header and invoice.vat_category == "AE":
        _ram(tax, "ExemptionReasonCode", REVERSE_CHARGE_CODE)
    _ram(tax, "RateApplicablePercent", decimal_text(invoice.vat_rate))


def build_cii(invoice: EInvoice, profile: Profile = "en16931") -> bytes:
    root = _cii_tree(invoice)
    if profile == "xrechnung":
        _to_xrechnung(root)
    return _serialise(root)


def build_cii_pair(invoice: EInvoice) -> tuple[bytes, bytes]:
    """The Factur-X EN 16931 and the XRechnung CII, from one tree: the two differ only in
    their document context, so the tree is built once and serialised twice."""
    root = _cii_tree(invoice)
    en16931 = _serialise(root)
    _to_xrechnung(root)
    return en16931, _serialise(root)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _to_xrechnung(root: etree._Element) -> None:
    """The EN 16931 context made XRechnung's: the Peppol process first, the CIUS guideline."""
    context = root[0]
    process = etree.Element(f"{{{RAM}}}BusinessProcessSpecifiedDocumentContextParameter")
    _ram(process, "ID", PEPPOL_BILLING)
    context.insert(0, process)
    context[1][0].text = XRECHNUNG_3


def _cii_tree(invoice: EInvoice) -> etree._Element:
    c = invoice.currency
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, RSM, "ExchangedDocumentContext")
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", FACTURX_EN16931)

    document = _el(root, RSM, "ExchangedDocument")
    _ram(document, "ID", invoice.number)
    _ram(document, "TypeCode", invoice.type_code)
    _date(document, "IssueDateTime", invoice.issue_date)
    for note in invoice.notes:
        _ram(_ram(document, "IncludedNote"), "Content", note)

    transaction = _el(root, RSM, "SupplyChainTradeTransaction")
    for line in invoice.lines:
        item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
        _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", line.line_id)
        _ram(_ram(item, "SpecifiedTradeProduct"), "Name", line.name)
        price = _ram(_ram(item, "SpecifiedLineTradeAgreement"), "NetPriceProductTradePrice")
        _ram(price, "ChargeAmount", amount(line.net_price_minor, c))
        delivery = _ram(item, "SpecifiedLineTradeDelivery")
        _ram(delivery, "BilledQuantity", decimal_text(line.quantity), unitCode=line.unit_code)
        settlement = _ram(item, "SpecifiedLineTradeSettlement")
        _tax(settlement, invoice, header=False)
        summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _ram(summation, "LineTotalAmount", amount(line.amount_minor, c))

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    _ram(agreement, "BuyerReference", invoice.buyer_reference)
    _party(agreement, "SellerTradeParty", invoice.seller, contact=True)
    _party(agreement, "BuyerTradeParty", invoice.buyer, contact=False)
    _ram(transaction, "ApplicableHeaderTradeDelivery")

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    _ram(settlement, "InvoiceCurrencyCode", c)
    if invoice.iban:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "58")
        _ram(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID", invoice.iban)
        if invoice.bic:
            institution = _ram(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _ram(institution, "BICID", invoice.bic)
    _tax(settlement, invoice, header=True)
    period = _ram(settlement, "BillingSpecifiedPeriod")
    _date(period, "StartDateTime", invoice.period_start)
    _date(period, "EndDateTime", invoice.period_end)
    if invoice.payment_terms or invoice.due_date:
        terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if invoice.payment_terms:
            _ram(terms, "Description", invoice.payment_terms)
        if invoice.due_date:
            _date(terms, "DueDateDateTime", invoice.due_date)
    totals = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(totals, "LineTotalAmount", amount(invoice.line_total_minor, c))
    _ram(totals, "TaxBasisTotalAmount", amount(invoice.tax_basis_minor, c))
    _ram(totals, "TaxTotalAmount", amount(invoice.tax_minor, c), currencyID=c)
    _ram(totals, "GrandTotalAmount", amount(invoice.grand_total_minor, c))
    if invoice.prepaid_minor:
        _ram(totals, "TotalPrepaidAmount", amount(invoice.prepaid_minor, c))
    _ram(totals, "DuePayableAmount", amount(invoice.payable_minor, c))
    if invoice.preceding_invoice:
        reference = _ram(settlement, "InvoiceReferencedDocument")
        _ram(reference, "IssuerAssignedID", invoice.preceding_invoice)
        if invoice.preceding_invoice_date:
            formatted = _ram(reference, "FormattedIssueDateTime")
            _el(
                formatted,
                QDT,
                "DateTimeString",
                invoice.preceding_invoice_date.strftime("%Y%m%d"),
                format="102",
            )
    return root
