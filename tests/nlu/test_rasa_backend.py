"""The Rasa backend against a local HTTP server speaking Rasa's `POST /model/parse`: its answers pass
through; a server that is down, slow, failing or talking nonsense gives the built-in model's answer."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.settings import load_settings
from nlu.parser import NLU, BuiltinNLU
from nlu.rasa_http import RasaHTTP

SECRET_TEXT = "nik sy 3201014506900003 iuran brp"


class FakeRasa(BaseHTTPRequestHandler):
    """Rasa's NLU HTTP API; `mode` picks the behaviour, `bodies` records what was asked."""

    mode: ClassVar[str] = "ok"
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.bodies.append({"path": self.path, **body})
        if FakeRasa.mode == "slow":
            time.sleep(0.5)
        if FakeRasa.mode == "error":
            self._send(500, b'{"error": "boom"}')
            return
        if FakeRasa.mode == "garbage":
            self._send(200, b"<html>not rasa</html>")
            return
        if FakeRasa.mode == "no_intent":
            self._send(200, json.dumps({"text": body["text"], "intent": {"name": None}}).encode())
            return
        parse = {
            "text": body["text"],
            "intent": {"name": "ask_jkk", "confidence": 0.77},
            "entities": [{"entity": "program", "value": "jkk", "start": 0, "end": 3, "extractor": "DIET"}],
            "intent_ranking": [
                {"name": "ask_jkk", "confidence": 0.77},
                {"name": "ask_jkm", "confidence": 0.2},
            ],
            "response_selector": {},
        }
        self._send(200, json.dumps(parse).encode())

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def rasa_url() -> Iterator[str]:
    FakeRasa.mode = "ok"
    FakeRasa.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def builtin(tmp_path_factory: pytest.TempPathFactory) -> BuiltinNLU:
    nlu = BuiltinNLU(cache_dir=tmp_path_factory.getbasetemp() / "nlu-cache")
    nlu.train()
    return nlu


def test_the_servers_parse_is_returned(rasa_url: str, builtin: BuiltinNLU) -> None:
    rasa = RasaHTTP(rasa_url, fallback=builtin)
    parse = rasa.parse("jkk itu apa")
    rasa.close()
    assert FakeRasa.bodies == [{"path": "/model/parse", "text": "jkk itu apa"}]
    assert parse["intent"] == {"name": "ask_jkk", "confidence": 0.77}
    assert parse["entities"][0]["extractor"] == "DIET"
    assert parse["response_selector"] == {}  # Rasa's extra keys pass through


@pytest.mark.parametrize("mode", ["error", "garbage", "no_intent"])
def test_unusable_answers_fall_back(
    mode: str, rasa_url: str, builtin: BuiltinNLU, caplog: pytest.LogCaptureFixture
) -> None:
    FakeRasa.mode = mode
    rasa = RasaHTTP(rasa_url, fallback=builtin)
    with caplog.at_level(logging.WARNING, logger="nlu.rasa_http"):
        parse = rasa.parse(SECRET_TEXT)
    rasa.close()
    assert len(FakeRasa.bodies) == 1
    assert parse == builtin.parse(SECRET_TEXT)
    assert caplog.records and SECRET_TEXT not in caplog.text and "3201014506900003" not in caplog.text


def test_a_server_that_is_down_falls_back_and_is_skipped_for_a_while(
    dead_url: str, builtin: BuiltinNLU, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    rasa = RasaHTTP(dead_url, fallback=builtin, timeout=1.0, retry_after=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="nlu.rasa_http"):
        parse = rasa.parse(SECRET_TEXT)
    assert parse == builtin.parse(SECRET_TEXT)
    assert "ConnectError" in caplog.text and SECRET_TEXT not in caplog.text
    assert not rasa.available
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nlu.rasa_http"):
        assert rasa.parse("halo")["intent"] == builtin.parse("halo")["intent"]
    assert caplog.records == []  # skipped: no new attempt, no new warning
    now[0] += 31
    assert rasa.available
    rasa.close()


def test_a_server_that_comes_back_is_used_again(rasa_url: str, builtin: BuiltinNLU) -> None:
    now = [0.0]
    FakeRasa.mode = "error"
    rasa = RasaHTTP(rasa_url, fallback=builtin, retry_after=5.0, clock=lambda: now[0])
    assert "fallback" in rasa.parse("jkk itu apa")  # the built-in answer
    FakeRasa.mode = "ok"
    now[0] += 4
    assert "fallback" in rasa.parse("jkk itu apa")  # still skipping the server
    assert len(FakeRasa.bodies) == 1
    now[0] += 2
    assert rasa.parse("jkk itu apa")["intent"] == {"name": "ask_jkk", "confidence": 0.77}
    assert len(FakeRasa.bodies) == 2
    rasa.close()


def test_a_slow_server_times_out_and_falls_back(rasa_url: str, builtin: BuiltinNLU) -> None:
    FakeRasa.mode = "slow"
    rasa = RasaHTTP(rasa_url, fallback=builtin, timeout=0.1)
    parse = rasa.parse("iuran brp klo gaji 2jt")
    rasa.close()
    assert parse["intent"]["name"] == "ask_contribution"
    assert "fallback" in parse  # the built-in answer (the fake server never sends this key)
    assert not rasa.available


def test_the_setting_picks_the_backend(
    rasa_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLU_BACKEND", "rasa")
    monkeypatch.setenv("RASA_URL", rasa_url)
    monkeypatch.setenv("RASA_TIMEOUT", "0.5")
    monkeypatch.setenv("NLU_CACHE_DIR", str(tmp_path))
    nlu = NLU.from_settings(load_settings())
    assert isinstance(nlu.backend, RasaHTTP)
    assert isinstance(nlu.backend.fallback, BuiltinNLU)
    assert nlu.backend.fallback.cache.directory == tmp_path
    assert nlu.parse("jkk itu apa")["intent"]["name"] == "ask_jkk"
    nlu.close()
