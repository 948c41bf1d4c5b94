import logging

import pytest

from bot.logs import RedactingFilter, redact


@pytest.mark.parametrize(
    "raw, hidden",
    [
        ("nik 3201014506900003 masuk", "3201014506900003"),
        ("nik 3201 0145 0690 0003", "3201 0145 0690 0003"),
        ("hp 0812-3456-7890", "0812-3456-7890"),
        ("hp +6281234567890", "6281234567890"),
        ("kpj 21034567890", "21034567890"),
        ("lahir 12-05-1985", "12-05-1985"),
        ("email budi@example.com", "budi@example.com"),
        (
            "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        ("Authorization: Bearer s3cr3t-t0ken-value-123", "s3cr3t-t0ken-value-123"),
    ],
)
def test_redact_hides_personal_values(raw: str, hidden: str) -> None:
    assert hidden not in redact(raw)


def test_filter_redacts_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "lookup nik=%s", ("3201014506900003",), None)
    RedactingFilter().filter(record)
    assert "3201014506900003" not in record.getMessage()
