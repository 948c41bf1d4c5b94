"""Under load every request writes an access line: `jamsosbot serve` must format it (uvicorn's formatter
reads the record's arguments), with personal values in the path redacted like everywhere else."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from bot.logs import install_redaction


class _Strict(logging.StreamHandler[io.StringIO]):
    def handleError(self, record: logging.LogRecord) -> None:  # logging swallows errors by default
        raise AssertionError("the access line could not be formatted")


def test_an_access_line_is_formatted_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    install_redaction()
    out = io.StringIO()
    handler = _Strict(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logger = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "level", logging.INFO)
    # as uvicorn's h11/httptools protocols log a request
    path = "/webhooks/rest/webhook?nik=3201014506900003"
    logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5005", "POST", path, "1.1", 200)
    line = out.getvalue()
    assert "POST /webhooks/rest/webhook?nik=[NIK] HTTP/1.1" in line and "200" in line, line
    assert "3201014506900003" not in line
