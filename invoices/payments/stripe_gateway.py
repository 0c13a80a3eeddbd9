"""The one place Hourglass talks to Stripe.

Everything above this module sees plain values and domain errors, never `stripe` objects, so the
rest of the code can be tested without Stripe and a change of Stripe library touches one file.

Retries: the Stripe library's automatic network retries are switched off. A payment is retried by
the caller's outbox, which knows whether retrying is wanted; a retry loop in here would only add
latency and hide an outage behind a slow call. Timeouts are short for the same reason.

Idempotency: `charge` sends the caller's `Idempotency-Key` (honoured by real Stripe for 24 hours)
*and* looks for an existing PaymentIntent of the same invoice first, matching on metadata. The
look-up is what makes a replay safe on localstripe, which ignores `Idempotency-Key`, and on real
Stripe after the key has expired. It is check-then-create, so it relies on the outbox never running
the same item twice at the same moment (on real Stripe the key closes that window too).

Declines: `charge` raises `CardDeclined` (with the PaymentIntent id) rather than returning a
failed result, so a caller cannot mistake a decline for a payment by forgetting to read a status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import stripe
from stripe.params import (
    PaymentIntentCreateParams,
    PaymentIntentCreateParamsAutomaticPaymentMethods,
    SetupIntentCreateParams,
)

# PaymentIntent states in which money has moved or is moving: an invoice in one of them is never
# charged again, whatever idempotency key the caller brings.
_IN_FLIGHT_OR_PAID = frozenset({"succeeded", "processing", "requires_capture"})


def money_moves(status: str) -> bool:
    """A PaymentIntent in this state has collected, or is collecting, its amount."""
    return status in _IN_FLIGHT_OR_PAID


_CARDS_WITHOUT_REDIRECTS: PaymentIntentCreateParamsAutomaticPaymentMethods = {
    "enabled": True,
    "allow_redirects": "never",
}


@dataclass(frozen=True, slots=True)
class StripeConfig:
    """What the gateway needs; the app builds it from `HOURGLASS_STRIPE_*` settings.

    `api_base=None` means api.stripe.com. The timeouts bound one HTTP attempt (there is only one).
    """

    api_key: str
    api_base: str | None
    webhook_secret: str | None
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """A PaymentIntent reduced to what billing records; `currency` is the upper-case ISO code."""

    payment_intent_id: str
    status: str
    amount_minor: int
    currency: str
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class OpenPaymentIntent:
    """An invoice's PaymentIntent as a browser needs it: the client secret lets Stripe.js (and
    only the holder of this invoice's page) act on it; `status` is Stripe's."""

    payment_intent_id: str
    client_secret: str
    status: str
    amount_minor: int
    currency: str
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class CardSetup:
    """A SetupIntent for collecting one card in the browser (`confirmCardSetup`)."""

    setup_intent_id: str
    client_secret: str


class PaymentGatewayError(Exception):
    """Base of every error raised here, so a caller can catch "Stripe said no" in one place."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CardDeclined(PaymentGatewayError):
    """The bank refused: retrying the same card will not help; the customer must act.

    `code` is Stripe's decline code when it gives one (`insufficient_funds`), else its error code
    (`card_declined`, `expired_card`, `authentication_required`).
    """

    def __init__(
        self, message: str, code: str | None, payment_intent_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.payment_intent_id = payment_intent_id


class PaymentMethodMissing(PaymentGatewayError):
    """No usable payment method: none saved, unknown to Stripe, or not this customer's."""


class StripeUnreachable(PaymentGatewayError):
    """Connection error, timeout, rate limit, 409 or 5xx: try again later with the same key.

    After a timeout Stripe may have acted on the request; the same idempotency key makes the
    retry return that outcome instead of acting twice.
    """


class IdempotencyConflict(PaymentGatewayError):
    """The idempotency key was already used for a different amount or currency."""


class PaymentMethodTaken(PaymentGatewayError):
    """Stripe shows the payment method attached to another customer: it is not ours to use."""


class StripeRequestRejected(PaymentGatewayError):
    """Stripe refused the request itself (bad key, unknown customer, bad parameter): a bug or a
    misconfiguration, not something a retry fixes."""

    def __init__(self, message: str, code: str | None, http_status: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class InvalidWebhook(PaymentGatewayError):
    """A webhook whose signature is missing, forged or too old, or whose body is not an event."""


class StripeGateway:
    """Customers, payment methods, charges and webhook verification, for one Stripe account."""

    def __init__(self, config: StripeConfig) -> None:
        self._config = config
        self._client = stripe.StripeClient(
            config.api_key,
            base_addresses={"api": config.api_base.rstrip("/")} if config.api_base else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(
                timeout=(config.connect_timeout_seconds, config.read_timeout_seconds)
            ),
        )

    def ensure_customer(
        self,
        *,
        name: str,
        email: str,
        existing_id: str | None,
        metadata: Mapping[str, str],
    ) -> str:
        """Return the Stripe customer id, creating the customer only if it does not exist yet.

        A crash between creating the customer and storing its id must not leave a twin behind, so
        before creating we look for a customer with this email whose metadata holds all of
        `metadata` (pass an id of ours there, e.g. `{"hourglass_customer_id": ...}`).
        A stored `existing_id` that Stripe no longer knows is replaced by a new customer.
        """
        with _translated_errors():
            if existing_id:
                try:
                    found = self._client.v1.customers.retrieve(existing_id)
                except stripe.InvalidRequestError as error:
                    if error.http_status != 404:
                        raise
                else:
                    if not getattr(found, "deleted", False):
                        return found.id
            if metadata:
                listed = self._client.v1.customers.list(params={"email": email, "limit": 100})
                for candidate in listed.auto_paging_iter():
                    if _metadata_contains(_plain_metadata(candidate.metadata), metadata):
                        return candidate.id
            created = self._client.v1.customers.create(
                params={"name": name, "email": email, "metadata": dict(metadata)}
            )
            return created.id

    def attach_default_payment_method(self, customer_id: str, payment_method_id: str) -> str:
        """Attach the payment method and make it the customer's default for invoices.

        Returns the id of the attached method: for Stripe's test tokens (`pm_card_visa`) attaching
        makes a new payment method with its own id, and that is the one to charge later.
        A method Stripe shows attached to another customer is refused (`PaymentMethodTaken`):
        Stripe (and localstripe) would otherwise move it, and one customer could charge
        another's card.
        """
        with _translated_errors():
            try:
                found = self._client.v1.payment_methods.retrieve(payment_method_id)
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    raise PaymentMethodMissing(
                        f"Stripe has no payment method {payment_method_id!r}"
                    ) from error
                raise
            owner = _customer_id(found.customer)
            if owner is not None and owner != customer_id:
                raise PaymentMethodTaken(
                    f"payment method {payment_method_id!r} is attached to another customer"
                )
            try:
                attached = self._client.v1.payment_methods.attach(
                    payment_method_id, params={"customer": customer_id}
                )
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    raise PaymentMethodMissing(
                        f"Stripe has no payment method {payment_method_id!r}"
                    ) from error
                raise
            self._client.v1.customers.update(
                customer_id,
                params={"invoice_settings": {"default_payment_method": attached.id}},
            )
            return attached.id

    def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str | None,
        amount_minor: int,
        currency: str,
        invoice_number: str,
        invoice_id: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Collect an invoice now, off-session, with a confirmed PaymentIntent.

        `payment_method_id=None` charges the customer's default payment method. Calling again with
        the same `idempotency_key` returns the same PaymentIntent (or raises the same decline)
        without charging again; an invoice whose earlier PaymentIntent succeeded or is processing
        is never charged again, even under a new key (that is how a retry after a decline works).
        """
        if amount_minor <= 0:
            raise ValueError(f"amount_minor must be positive, got {amount_minor}")
        with _translated_errors():
            earlier = self._payment_intents_for_invoice(customer_id, invoice_id)
            for intent in earlier:
                if intent.status in _IN_FLIGHT_OR_PAID:
                    return _charge_result(intent)
            for intent in earlier:
                if _plain_metadata(intent.metadata).get("idempotency_key") == idempotency_key:
                    _check_same_charge(intent, amount_minor=amount_minor, currency=currency)
                    if _awaits_confirmation(intent):  # made for the portal, never confirmed
                        method_id = self._usable_payment_method(customer_id, payment_method_id)
                        return self.confirm_payment_intent(intent.id, method_id, off_session=True)
                    return _charge_result_or_decline(intent)

            method_id = self._usable_payment_method(customer_id, payment_method_id)
            params: PaymentIntentCreateParams = {
                "amount": amount_minor,
                "currency": currency.lower(),
                "customer": customer_id,
                "payment_method": method_id,
                "confirm": True,
                "off_session": True,
                "metadata": {
                    "invoice_number": invoice_number,
                    "invoice_id": invoice_id,
                    "idempotency_key": idempotency_key,
                },
            }
            try:
                intent = self._create_payment_intent(params, idempotency_key)
            except stripe.CardError as error:
                intent_id = self._declined_intent_id(
                    error, customer_id=customer_id, invoice_id=invoice_id, key=idempotency_key
                )
                _raise_declined(error, intent_id)
            return _charge_result_or_decline(intent)

    def invoice_payment_intent(
        self,
        *,
        customer_id: str,
        amount_minor: int,
        currency: str,
        invoice_number: str,
        invoice_id: str,
        idempotency_key: str,
    ) -> OpenPaymentIntent:
        """The invoice's PaymentIntent for the current key, made (unconfirmed, with no payment
        method) only if there is none: the same one `charge` would find and confirm.

        Like `charge`, an earlier PaymentIntent of the invoice that succeeded or is processing
        is returned whatever the key, so the caller sees the invoice is paid instead of making a
        second charge.
        """
        if amount_minor <= 0:
            raise ValueError(f"amount_minor must be positive, got {amount_minor}")
        with _translated_errors():
            earlier = self._payment_intents_for_invoice(customer_id, invoice_id)
            for intent in earlier:
                if intent.status in _IN_FLIGHT_OR_PAID:
                    return _open_intent(intent)
            for intent in earlier:
                if _plain_metadata(intent.metadata).get("idempotency_key") == idempotency_key:
                    _check_same_charge(intent, amount_minor=amount_minor, currency=currency)
                    return _open_intent(intent)
            params: PaymentIntentCreateParams = {
                "amount": amount_minor,
                "currency": currency.lower(),
                "customer": customer_id,
                "metadata": {
                    "invoice_number": invoice_number,
                    "invoice_id": invoice_id,
                    "idempotency_key": idempotency_key,
                },
            }
            return _open_intent(self._create_payment_intent(params, idempotency_key))

    def create_card_setup(self, *, customer_id: str, invoice_id: str) -> CardSetup:
        """A SetupIntent for one card typed in the browser, tagged with the invoice it pays."""
        with _translated_errors():
            params: SetupIntentCreateParams = {
                "customer": customer_id,
                "usage": "on_session",
                "metadata": {"invoice_id": invoice_id},
            }
            setup = self._client.v1.setup_intents.create(params=params)
            assert setup.client_secret is not None
            return CardSetup(setup_intent_id=setup.id, client_secret=setup.client_secret)

    def card_from_setup(self, setup_intent_id: str, *, customer_id: str, invoice_id: str) -> str:
        """The PaymentMethod a SetupIntent of this customer and invoice collected.

        The browser names the SetupIntent, never a PaymentMethod: a card is only ever taken
        from a SetupIntent this service made for this invoice, so no other card can be slipped in.
        """
        with _translated_errors():
            try:
                setup = self._client.v1.setup_intents.retrieve(setup_intent_id)
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    raise PaymentMethodMissing(
                        f"Stripe has no card setup {setup_intent_id!r}"
                    ) from error
                raise
        if (
            _customer_id(setup.customer) != customer_id
            or _plain_metadata(setup.metadata).get("invoice_id") != invoice_id
        ):
            raise PaymentMethodMissing(f"card setup {setup_intent_id} is not for this invoice")
        method = setup.payment_method
        if setup.status != "succeeded" or method is None:
            raise PaymentMethodMissing(
                f"card setup {setup_intent_id} has not collected a card (it is {setup.status})"
            )
        return method if isinstance(method, str) else method.id

    def confirm_payment_intent(
        self, payment_intent_id: str, payment_method_id: str, *, off_session: bool
    ) -> ChargeResult:
        """Set the payment method on an unconfirmed PaymentIntent and confirm it.

        Two calls, as localstripe supports (it refuses `payment_method` on `/confirm`); real
        Stripe accepts the same sequence. A PaymentIntent that is already paid or processing is
        left alone. Declines raise `CardDeclined`, as in `charge`.
        """
        with _translated_errors():
            intents = self._client.v1.payment_intents
            intent = intents.retrieve(payment_intent_id)
            if not _awaits_confirmation(intent):
                return _charge_result_or_decline(intent)
            try:
                intents.update(payment_intent_id, params={"payment_method": payment_method_id})
                intent = self._confirm(payment_intent_id, off_session=off_session)
            except stripe.CardError as error:
                _raise_declined(error, payment_intent_id)
            return _charge_result_or_decline(intent)

    def _confirm(self, payment_intent_id: str, *, off_session: bool) -> stripe.PaymentIntent:
        """Confirm; localstripe knows no parameter of `/confirm` and answers "Unexpected
        off_session" before doing anything, so it is then asked without one."""
        intents = self._client.v1.payment_intents
        if off_session:
            try:
                return intents.confirm(payment_intent_id, params={"off_session": True})
            except stripe.InvalidRequestError as error:
                if "Unexpected off_session" not in str(error.user_message):
                    raise
        return intents.confirm(payment_intent_id)

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict[str, Any]:
        """Check a webhook's `Stripe-Signature` and return the event as a plain dict.

        Uses Stripe's scheme (`t=<unix time>,v1=<HMAC-SHA256 of "t.payload">`) and its default
        tolerance of five minutes, so a captured request cannot be replayed later. Stripe's
        library checks only the past side; a timestamp more than five minutes ahead is refused
        too (SPEC "Payments"), so a signature made for later cannot be used now and then.
        """
        secret = self._config.webhook_secret
        if not secret:
            raise InvalidWebhook("no webhook secret is configured, so no webhook can be trusted")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
            _refuse_future_timestamp(signature_header, tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
            event = json.loads(payload)
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook(f"webhook signature rejected: {error.user_message}") from error
        except ValueError as error:  # also UnicodeDecodeError and JSONDecodeError
            raise InvalidWebhook("webhook body is not UTF-8 JSON") from error
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise InvalidWebhook("webhook body is not a Stripe event")
        return event

    def _create_payment_intent(
        self, params: PaymentIntentCreateParams, idempotency_key: str
    ) -> stripe.PaymentIntent:
        """Create and confirm, refusing redirect-based methods, which no one can follow off-session.

        Without `allow_redirects=never` Stripe wants a `return_url` for a confirmed PaymentIntent
        (and the API version this library pins no longer accepts `payment_method_types`).
        localstripe knows neither parameter and answers "Unexpected automatic_payment_methods",
        before creating anything; only then is the request repeated without it.
        """
        intents = self._client.v1.payment_intents
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        try:
            return intents.create(
                params={**params, "automatic_payment_methods": _CARDS_WITHOUT_REDIRECTS},
                options=options,
            )
        except stripe.InvalidRequestError as error:
            if "Unexpected automatic_payment_methods" not in str(error.user_message):
                raise
        return intents.create(params=params, options=options)

    def _payment_intents_for_invoice(
        self, customer_id: str, invoice_id: str
    ) -> list[stripe.PaymentIntent]:
        """This customer's PaymentIntents that carry `invoice_id` in their metadata.

        Stripe filters the list by customer; localstripe rejects that filter ("Unexpected
        customer"), so there we list every PaymentIntent and filter here. Search is not used: it
        is eventually consistent on Stripe, so it can miss a PaymentIntent made a second ago.
        """
        intents = self._client.v1.payment_intents
        try:
            listed = intents.list(params={"customer": customer_id, "limit": 100})
        except stripe.InvalidRequestError as error:
            if "Unexpected customer" not in str(error.user_message):
                raise
            listed = intents.list(params={"limit": 100})
        return [
            intent
            for intent in listed.auto_paging_iter()
            if _customer_id(intent.customer) == customer_id
            and _plain_metadata(intent.metadata).get("invoice_id") == invoice_id
        ]

    def _usable_payment_method(self, customer_id: str, payment_method_id: str | None) -> str:
        """The id of the payment method to charge, checked before any PaymentIntent exists."""
        if payment_method_id is None:
            customer = self._client.v1.customers.retrieve(customer_id)
            settings = customer.invoice_settings
            default = settings.default_payment_method if settings else None
            if default is None:
                raise PaymentMethodMissing(f"customer {customer_id} has no default payment method")
            payment_method_id = default if isinstance(default, str) else default.id
        try:
            method = self._client.v1.payment_methods.retrieve(payment_method_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                raise PaymentMethodMissing(
                    f"Stripe has no payment method {payment_method_id!r}"
                ) from error
            raise
        if _customer_id(method.customer) != customer_id:
            raise PaymentMethodMissing(
                f"payment method {payment_method_id} is not attached to customer {customer_id}"
            )
        return method.id

    def _declined_intent_id(
        self, error: stripe.CardError, *, customer_id: str, invoice_id: str, key: str
    ) -> str | None:
        """Stripe puts the declined PaymentIntent in the error; localstripe does not, so look."""
        from_error = _optional(error.error, "payment_intent")
        if from_error is not None:
            return str(from_error.id)
        try:
            earlier = self._payment_intents_for_invoice(customer_id, invoice_id)
        except stripe.StripeError:
            return None  # the decline is what matters; its id is a nicety
        for intent in earlier:
            if _plain_metadata(intent.metadata).get("idempotency_key") == key:
                return intent.id
        return None


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn the Stripe library's exceptions into this module's domain errors."""
    try:
        yield
    except stripe.CardError as error:
        _raise_declined(error, None)
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeUnreachable(f"Stripe is unreachable: {error.user_message}") from error
    except stripe.IdempotencyError as error:
        raise IdempotencyConflict(str(error.user_message)) from error
    except stripe.StripeError as error:
        # 409: a concurrent request with the same idempotency key is still running.
        if error.http_status is None or error.http_status >= 500 or error.http_status == 409:
            raise StripeUnreachable(
                f"Stripe failed ({error.http_status}): {error.user_message}"
            ) from error
        raise StripeRequestRejected(
            str(error.user_message), error.code, error.http_status
        ) from error


def _raise_declined(error: stripe.CardError, payment_intent_id: str | None) -> NoReturn:
    code = _optional(error.error, "decline_code") or error.code
    raise CardDeclined(str(error.user_message), code, payment_intent_id) from error


def _charge_result(intent: stripe.PaymentIntent) -> ChargeResult:
    failure = intent.last_payment_error
    return ChargeResult(
        payment_intent_id=intent.id,
        status=intent.status,
        amount_minor=intent.amount,
        currency=intent.currency.upper(),
        failure_message=_optional(failure, "message"),
    )


def _open_intent(intent: stripe.PaymentIntent) -> OpenPaymentIntent:
    assert intent.client_secret is not None
    return OpenPaymentIntent(
        payment_intent_id=intent.id,
        client_secret=intent.client_secret,
        status=intent.status,
        amount_minor=intent.amount,
        currency=intent.currency.upper(),
        failure_message=_optional(intent.last_payment_error, "message"),
    )


def _awaits_confirmation(intent: stripe.PaymentIntent) -> bool:
    """Made but never confirmed: no payment method yet (and no decline), or one not confirmed."""
    if intent.status == "requires_confirmation":
        return True
    return intent.status == "requires_payment_method" and intent.last_payment_error is None


def _charge_result_or_decline(intent: stripe.PaymentIntent) -> ChargeResult:
    """A PaymentIntent back in `requires_payment_method` after confirming was declined."""
    failure = intent.last_payment_error
    if intent.status == "requires_payment_method" and failure is not None:
        code = _optional(failure, "decline_code") or _optional(failure, "code")
        message = _optional(failure, "message") or "The card was declined."
        raise CardDeclined(message, code, intent.id)
    return _charge_result(intent)


def _optional(stripe_object: stripe.StripeObject | None, field: str) -> Any:
    """A field Stripe may leave out of a response (localstripe leaves out more)."""
    return getattr(stripe_object, field, None)


def _check_same_charge(intent: stripe.PaymentIntent, *, amount_minor: int, currency: str) -> None:
    if intent.amount != amount_minor or intent.currency.lower() != currency.lower():
        raise IdempotencyConflict(
            f"PaymentIntent {intent.id} for this idempotency key is for "
            f"{intent.amount} {intent.currency.upper()}, not {amount_minor} {currency.upper()}"
        )


def _customer_id(customer: str | stripe.Customer | None) -> str | None:
    if customer is None or isinstance(customer, str):
        return customer
    return customer.id


def _plain_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    plain: dict[str, str] = metadata.to_dict() if hasattr(metadata, "to_dict") else dict(metadata)
    return plain


def _metadata_contains(metadata: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())


def _refuse_future_timestamp(signature_header: str | None, *, tolerance: int) -> None:
    """The signature is valid (checked first); its `t=` must not lie beyond now + tolerance."""
    stamps = [
        part.partition("=")[2]
        for part in (signature_header or "").split(",")
        if part.strip().startswith("t=")
    ]
    try:
        timestamp = int(stamps[0].strip())
    except (IndexError, ValueError) as error:
        raise InvalidWebhook("webhook signature rejected: no timestamp") from error
    if timestamp > time.time() + tolerance:
        raise InvalidWebhook(
            "webhook signature rejected: its timestamp is more than 5 minutes in the future"
        )
