"""Who issues the invoices, as the billing domain sees it."""

from __future__ import annotations

from dataclasses import dataclass

from invoices import pdf


def _grouped_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


@dataclass(frozen=True)
class IssuerDetails:
    """Who issues invoices: printed on every PDF and e-invoice, the scope of the number
    sequences. `sample` marks the built-in sample issuer: its documents say they are no invoice.
    """

    name: str
    address_lines: tuple[str, ...] = ()
    tax_id: str | None = None  # the VAT identifier (BT-31)
    email: str | None = None
    payment_instructions: tuple[str, ...] = ()
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    contact_name: str | None = None
    iban: str | None = None
    bic: str | None = None
    sample: bool = False

    def for_pdf(self) -> pdf.Issuer:
        bank: list[str] = []
        if self.iban:
            bank.append(f"IBAN {_grouped_iban(self.iban)}")
        if self.bic:
            bank.append(f"BIC {self.bic}")
        return pdf.Issuer(
            name=self.name,
            address_lines=self.address_lines,
            tax_id=self.tax_id,
            email=self.email,
            bank_details=tuple(bank),
        )
