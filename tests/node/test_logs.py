"""Logging: one JSON object per line when configured, extra fields kept."""

from __future__ import annotations

import logging
import sys

import orjson

from node.logs import JsonFormatter


def test_json_lines_carry_extra_fields_and_whole_tracebacks() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "bocage.federation.delivery", logging.INFO, __file__, 1,
        "delivered %s to %d inboxes", ("act-1", 3), None,
    )  # fmt: skip
    record.host = "brest.test"
    line = formatter.format(record)
    entry = orjson.loads(line)
    assert entry["msg"] == "delivered act-1 to 3 inboxes"
    assert entry["logger"] == "bocage.federation.delivery"
    assert entry["level"] == "INFO" and entry["host"] == "brest.test"
    assert entry["ts"].endswith("Z")

    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "bocage", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = formatter.format(failed)
    assert "\n" not in text  # one record, one line
    assert "ValueError: boom" in orjson.loads(text)["exc"]
