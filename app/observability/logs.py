"""Structured logs through the standard library: one JSON object a line, or readable text.

Why the standard library and not structlog: everything that logs here already speaks `logging`
(uvicorn, SQLAlchemy, Alembic, stripe, httpx, our own `hourglass.*` loggers), so one handler with
a JSON formatter and one redacting filter covers every line, with no second logging system to
bridge and no new dependency. Request fields travel as `extra=` attributes; the request id rides
a context variable so every line logged while a request is served carries it.

Redaction is the last step before a line is written, for every logger: bearer tokens, our
`hg_` tokens, Stripe keys and client secrets, webhook secrets, `Stripe-Signature` /
`Hourglass-Signature` values, and anything that looks like a card number become `[redacted]`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

request_id_var: ContextVar[str | None] = ContextVar("hourglass_request_id", default=None)

REQUEST_FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms")

REDACTED = "[redacted]"
_SECRETS = [
    re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"),
    re.compile(r"\bhg_[A-Za-z0-9_\-]{8,}"),  # Hourglass API tokens
    re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+"),  # Stripe keys
    re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"),  # webhook signing secrets
    re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"),  # Stripe client secrets
    re.compile(r"(?i)\b(t=\d+,)?v1=[0-9a-f]{16,}"),  # signature headers
    re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),  # a card number (13–19 digits, spaced or not)
    re.compile(
        r"(?i)((?:token|secret|password|api_key|apikey|client_secret|authorization)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"
    ),
]


def _scoped(pattern: re.Pattern[str]) -> str:
    """A pattern as a group of one alternation (a leading `(?i)` becomes `(?i:…)`)."""
    source = pattern.pattern
    if source.startswith("(?i)"):
        return f"(?i:{source.removeprefix('(?i)')})"
    return f"(?:{source})"


# Whether any of them matches, in one pass: most lines (every request's) hold no secret, and
# eight substitutions cost more than the rest of the line's logging (issue #12).
_ANY_SECRET = re.compile("|".join(_scoped(pattern) for pattern in _SECRETS))


def redact(text: str) -> str:
    if not _ANY_SECRET.search(text):
        return text
    for pattern in _SECRETS[:-1]:
        text = pattern.sub(REDACTED, text)
    return _SECRETS[-1].sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Renders the message once and scrubs it (and the traceback) before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for name in ("path", "query"):
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{name}={getattr(record, name)}"
            for name in REQUEST_FIELDS
            if getattr(record, name, None) is not None
        )
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += f"  [{fields}]"
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


_HANDLER_NAME = "hourglass"


def configure_logging(
    log_format: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """One handler on the root logger (replacing ours if configured before): every library's
    lines go through the same redaction and format. Returns the handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' chatter (pikepdf announces its logger bridge at INFO) stays out of the output.
    for noisy in ("pikepdf", "fontTools", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # Our request line replaces uvicorn's access log (which prints the query string).
    logging.getLogger("uvicorn.access").disabled = True
    return handler
