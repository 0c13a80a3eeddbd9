"""Notifications (SPEC "Notifications"): events and signed webhooks out, e-mails, hours alerts.

- `events`: record an event in the transaction of what it reports, with one webhook-delivery
  outbox row per subscribed endpoint; the hooks issuing, voiding, payments and runs call.
- `endpoints`: webhook endpoints (secret shown once) and their deliveries log.
- `webhooks`: the webhook deliverer (claim, POST outside any transaction, record).
- `emails`: the e-mail outbox: queueing, and what each message says and carries.
- `mailer`: sending it over SMTP (stdlib `email` + `smtplib`), and the exact guarantee.
- `alerts`: relays the ledger's hours alerts into an e-mail and a webhook event.
- `deliver`: one pass of everything, for the CLI and the server's background thread.
- `metrics`: outbox depths and the delivery-failure count.
"""
