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


def test_installed_redaction_covers_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    from bot.logs import install_redaction

    install_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("any.module").info("lookup for nik %s phone %s", "3201014506900003", "081234567890")
    assert "3201014506900003" not in caplog.text
    assert "081234567890" not in caplog.text
    assert "[NIK]" in caplog.text
