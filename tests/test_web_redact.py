"""Server logs keep phone numbers and e-mail addresses out of their text."""

from __future__ import annotations

import logging

import pytest

from dialer.web.redact import RedactingFilter, redact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DELETE /api/dnc/%2B12015550123 HTTP/1.1", "DELETE /api/dnc/***0123 HTTP/1.1"),
        ("call +1 201-555-0123 now", "call ***0123 now"),
        ("(212) 555-0199", "***0199"),
        ("+44 20 7946 0958", "***0958"),
        ("2125550199", "***0199"),
        ("avery.johnson@northwind.example", "av***@***"),
        ("to=jo%40x.example", "to=jo***@***"),
        # left alone: ids, dates, addresses, small numbers
        ("run a0a93dcc8130 attempt e68359e519d7-000025", None),
        ("2026-11-23 rows 12345678", None),
        ("192.168.100.200:5000 - GET /x", None),
    ],
)
def test_redact(text, expected):
    assert redact(text) == (text if expected is None else expected)


def test_filter_masks_arguments_without_merging_them():
    # uvicorn's access formatter unpacks record.args itself: they must stay a tuple
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None
    )
    record.args = ("127.0.0.1:5000", "DELETE", "/api/dnc/%2B12015550123", "1.1", 200)
    assert RedactingFilter().filter(record)
    assert record.args == ("127.0.0.1:5000", "DELETE", "/api/dnc/***0123", "1.1", 200)
    assert record.getMessage() == '127.0.0.1:5000 - "DELETE /api/dnc/***0123 HTTP/1.1" 200'


def test_filter_masks_tracebacks():
    try:
        raise ValueError("bad number +12015550123")
    except ValueError as exc:
        record = logging.LogRecord(
            "dialer.web", logging.ERROR, __file__, 1, "failed", None, (type(exc), exc, None)
        )
    RedactingFilter().filter(record)
    assert "***0123" in record.exc_text and "2015550123" not in record.exc_text
