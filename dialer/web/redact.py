"""Keep personal data out of the server's log text: phone numbers and e-mail addresses masked.

A phone number keeps its last 4 digits (`***0123`), an address its first 2 letters
(`av***@***`); URL-encoded forms (`%2B1201...`, `%40`) are caught too, since access-log lines
carry request paths such as `DELETE /api/dnc/%2B12015550123`.
"""

from __future__ import annotations

import logging
import re

# `+` (or %2B) then 7+ digits, or 9+ digits without it, digits split by at most two separators
# (`) `); not inside a word, so run ids and hashes (letters around the digits) stay readable,
# and not an IPv4 address (the access log's client).
_PHONE_RE = re.compile(
    r"(?<![\w%.])(?:(?:\+|%2[Bb])\(?\d(?:[\s().\-/]{0,2}\d){6,}"
    r"|(?!\d{1,3}(?:\.\d{1,3}){3}\b)\(?\d(?:[\s().\-/]{0,2}\d){8,})(?![\w])"
)
_EMAIL_RE = re.compile(
    r"([A-Za-z0-9._%+\-]{1,2})[A-Za-z0-9._%+\-]*(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)


def _mask_phone(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0).replace("%2B", "").replace("%2b", ""))
    return "***" + digits[-4:]


def redact(text: str) -> str:
    """`text` with phone numbers and e-mail addresses masked."""
    text = _EMAIL_RE.sub(lambda m: m.group(1) + "***@***", text)
    return _PHONE_RE.sub(_mask_phone, text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks the formatted message and any traceback text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # arguments are masked one by one, not merged into the message: formatters such as
        # uvicorn's access log read `record.args` themselves
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _masked(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "dialer")


def log_config(level: str = "info") -> dict:
    """uvicorn's logging config with every handler behind `RedactingFilter`."""
    from uvicorn.config import LOGGING_CONFIG

    config = {
        **LOGGING_CONFIG,
        "filters": {"redact": {"()": "dialer.web.redact.RedactingFilter"}},
        "handlers": {
            name: {**handler, "filters": ["redact"]}
            for name, handler in LOGGING_CONFIG["handlers"].items()
        },
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            "dialer": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }
    return config
