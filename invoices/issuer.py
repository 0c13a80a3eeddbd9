"""Who issues the invoices, as the billing domain sees it."""

from __future__ import annotations

from dataclasses import dataclass

from invoices import pdf


@dataclass(frozen=True)
class IssuerDetails:
    """Who issues invoices: printed on every PDF, and the scope of the number sequences."""

    name: str
    address_lines: tuple[str, ...] = ()
    tax_id: str | None = None
    email: str | None = None
    payment_instructions: tuple[str, ...] = ()

    def for_pdf(self) -> pdf.Issuer:
        return pdf.Issuer(
            name=self.name,
            address_lines=self.address_lines,
            tax_id=self.tax_id,
            email=self.email,
        )
