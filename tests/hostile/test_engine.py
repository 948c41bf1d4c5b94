"""The flow engine on hostile messages at every step of every flow: whatever the user types (or types as a
button payload, `/choose{"value": 1e999}`), the turn returns replies and a state the host can store, never
an exception. The messages go through the real built-in NLU, as in production; the services are the
flows' in-memory fakes (the real backends are exercised through the app in the webhook tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flows.engine import Engine, TurnContext
from flows.fmt import WIB
from flows.replies import Reply
from nlu.parser import BuiltinNLU
from tests.flows.fakes import FakeServices
from tests.hostile.strategies import HOSTILE, HOSTILE_TEXT, typed_payloads

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=WIB)
NIK = "3201014506900003"
# Each scenario puts the conversation at some step before the hostile messages arrive.
REGISTRATION = [
    "sy mau daftar bpjs tk",
    "1",
    "siti aminah",
    NIK,
    "5 juni 1990",
    "0812 3456 7890",
    "kab bogor",
    "5",
    "2,5 juta",
    "2",
    "3",
]
SCENARIOS = {
    **{f"registration@{i}": REGISTRATION[:i] for i in range(len(REGISTRATION) + 1)},
    "status@id": ["cek status kepesertaan"],
    "status@birth_date": ["cek status kepesertaan", NIK],
    "calculator": ["hitung iuran dong"],
    "erase": ["hapus data saya"],
}


@pytest.fixture(scope="module")
def nlu() -> Iterator[BuiltinNLU]:
    yield BuiltinNLU()


def _turn(engine: Engine, nlu: BuiltinNLU, state: dict[str, object], text: str, n: int) -> dict[str, object]:
    ctx = TurnContext(
        channel="whatsapp",
        chat_id="+6281234567890",
        text=text,
        parse=nlu.parse(text[:2000]),  # what the dispatcher hands the engine
        now=NOW,
        phone="+6281234567890",
        display_name="{nama} <b>",
    )
    result = engine.run(state, ctx)
    assert all(isinstance(r, Reply) and isinstance(r.text, str) for r in result.replies)
    assert result.replies or n > 0 or text.strip() == "", "the first answer is never silence"
    # the dispatcher stores the state as JSON: it must survive the round trip
    return dict(json.loads(json.dumps(result.state, default=str)))


@HOSTILE
@given(
    st.sampled_from(sorted(SCENARIOS)),
    st.lists(st.one_of(HOSTILE_TEXT, typed_payloads()), min_size=1, max_size=4),
)
@example("registration@8", ['/inform{"amount": 1e999}'])
@example("registration@9", ['/choose{"value": 1e999}'])
@example("registration@10", ['/choose{"value": [1, 2]}', "/choose"])
@example("registration@3", ['/inform{"nik": 3201014506900003}', '/inform{"date": {"a": 1}}'])
@example("registration@0", ['/register{"amount": -1e999, "occupation": null, "phone": 6281234567890}'])
@example("status@birth_date", ['/inform{"date": "9999-99-99"}', '/inform{"date": 19900605}'])
@example("registration@2", ["{{7*7}} {nama} %s ${x}", "'; DROP TABLE members; --"])
@example("calculator", ["9" * 2000, '/ask_contribution{"amount": "abc"}'])
@example("registration@0", ["Rp " + "9" * 40, "iuran kalau gaji 999999999999999999999999999999 triliun"])
def test_no_message_breaks_a_turn(nlu: BuiltinNLU, scenario: str, messages: list[str]) -> None:
    engine = Engine(FakeServices())
    state: dict[str, object] = {}
    for n, text in enumerate(SCENARIOS[scenario]):
        state = _turn(engine, nlu, state, text, n)
    for n, text in enumerate(messages):
        state = _turn(engine, nlu, state, text, n + 1)
