"""UBL 2.1 Invoice / CreditNote following Peppol BIS Billing 3.0, built with lxml."""

from __future__ import annotations

from lxml import etree

from invoices.einvoice.amounts import amount, decimal_text
from invoices.einvoice.model import REVERSE_CHARGE_CODE, REVERSE_CHARGE_REASON, EInvoice, Party

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
PEPPOL_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


def _cbc(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{tag}", attrs or None)
    element.text = text
    return element


def _cac(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{tag}")


def _party(parent: etree._Element, tag: str, party: Party, *, contact: bool) -> None:
    node = _cac(_cac(parent, tag), "Party")
    if party.email:
        _cbc(node, "EndpointID", party.email, schemeID="EM")
    _cbc(_cac(node, "PartyName"), "Name", party.name)
    address = _cac(node, "PostalAddress")
    if party.street:
        _cbc(address, "StreetName", party.street)
    if party.city:
        _cbc(address, "CityName", party.city)
    if party.postal_code:
        _cbc(address, "PostalZone", party.postal_code)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.country)
    if party.vat_id:
        scheme = _cac(node, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.vat_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "VAT")
    _cbc(_cac(node, "PartyLegalEntity"), "RegistrationName", party.name)
    if contact and (party.contact_name or party.phone or party.email):
        person = _cac(node, "Contact")
        if party.contact_name:
            _cbc(person, "Name", party.contact_name)
        if party.phone:
            _cbc(person, "Telephone", party.phone)
        if party.email:
            _cbc(person, "ElectronicMail", party.email)


def _category(parent: etree._Element, tag: str, invoice: EInvoice, *, reason: bool) -> None:
    category = _cac(parent, tag)
    _cbc(category, "ID", invoice.vat_category)
    _cbc(category, "Percent", decimal_text(invoice.vat_rate))
    if reason and invoice.vat_category == "AE":
        _cbc(category, "TaxExemptionReasonCode", REVERSE_CHARGE_CODE)
        _cbc(category, "TaxExemptionReason", REVERSE_CHARGE_REASON)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def build_ubl(invoice: EInvoice) -> bytes:
    credit = invoice.type_code == "381"
    c = invoice.currency
    name = "CreditNote" if credit else "Invoice"
    root = etree.Element(
        f"{{{CREDIT_NOTE if credit else INVOICE}}}{name}",
        nsmap={None: CREDIT_NOTE if credit else INVOICE, "cac": CAC, "cbc": CBC},
    )
    _cbc(root, "CustomizationID", PEPPOL_CUSTOMIZATION)
    _cbc(root, "ProfileID", PEPPOL_PROFILE)
    _cbc(root, "ID", invoice.number)
    _cbc(root, "IssueDate", invoice.issue_date.isoformat())
    if invoice.due_date and not credit:
        _cbc(root, "DueDate", invoice.due_date.isoformat())
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", invoice.type_code)
    for note in invoice.notes:
        _cbc(root, "Note", note)
    _cbc(root, "DocumentCurrencyCode", c)
    _cbc(root, "BuyerReference", invoice.buyer_reference)
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", invoice.period_start.isoformat())
    _cbc(period, "EndDate", invoice.period_end.isoformat())
    if invoice.preceding_invoice:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", invoice.preceding_invoice)
        if invoice.preceding_invoice_date:
            _cbc(reference, "IssueDate", invoice.preceding_invoice_date.isoformat())
    _party(root, "AccountingSupplierParty", invoice.seller, contact=True)
    _party(root, "AccountingCustomerParty", invoice.buyer, contact=False)
    if invoice.iban:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", "58")
        _cbc(means, "PaymentID", invoice.number)
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", invoice.iban)
        if invoice.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", invoice.bic)
    if invoice.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", invoice.payment_terms)
    tax_total = _cac(root, "TaxTotal")
    _cbc(tax_total, "TaxAmount", amount(invoice.tax_minor, c), currencyID=c)
    subtotal = _cac(tax_total, "TaxSubtotal")
    _cbc(subtotal, "TaxableAmount", amount(invoice.tax_basis_minor, c), currencyID=c)
    _cbc(subtotal, "TaxAmount", amount(invoice.tax_minor, c), currencyID=c)
    _category(subtotal, "TaxCategory", invoice, reason=True)
    totals = _cac(root, "LegalMonetaryTotal")
    _cbc(totals, "LineExtensionAmount", amount(invoice.line_total_minor, c), currencyID=c)
    _cbc(totals, "TaxExclusiveAmount", amount(invoice.tax_basis_minor, c), currencyID=c)
    _cbc(totals, "TaxInclusiveAmount", amount(invoice.grand_total_minor, c), currencyID=c)
    if invoice.prepaid_minor:
        _cbc(totals, "PrepaidAmount", amount(invoice.prepaid_minor, c), currencyID=c)
    _cbc(totals, "PayableAmount", amount(invoice.payable_minor, c), currencyID=c)
    for line in invoice.lines:
        node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        _cbc(node, "ID", line.line_id)
        _cbc(
            node,
            "CreditedQuantity" if credit else "InvoicedQuantity",
            decimal_text(line.quantity),
            unitCode=line.unit_code,
        )
        _cbc(node, "LineExtensionAmount", amount(line.amount_minor, c), currencyID=c)
        item = _cac(node, "Item")
        _cbc(item, "Name", line.name)
        _category(item, "ClassifiedTaxCategory", invoice, reason=False)
        _cbc(_cac(node, "Price"), "PriceAmount", amount(line.net_price_minor, c), currencyID=c)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
