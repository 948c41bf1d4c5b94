"""Golden conversations (tests/golden/*.yml) driven through POST /webhooks/rest/webhook of the real app.

Each file is one conversation with a pinned clock (see tests/golden/README.md). The bot's side is compared
exactly; `pytest tests/test_golden.py --update-golden` rewrites it after a reviewed change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.clock import WIB, FixedClock
from bot.settings import Settings
from bot.texts import text
from storage.models import Event, Registration, Subscriber

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.yml"))
_WAIT = re.compile(r"^(\d+)\s*([mhd])$")


def _wait(spec: str) -> timedelta:
    match = _WAIT.match(spec.strip())
    if not match:
        raise ValueError(f"bad wait {spec!r}: use e.g. 45m, 2h, 1d")
    amount, unit = int(match[1]), match[2]
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


def _said(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        item: dict[str, Any] = {"text": m.get("text", "")}
        if m.get("buttons"):
            item["buttons"] = [b["title"] for b in m["buttons"]]
        out.append(item)
    return out


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as readable `|` blocks, so a golden diff reads like the chat."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


@pytest.fixture
def golden_app(tmp_path: Path) -> Iterator[tuple[TestClient, FixedClock]]:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'golden.db'}",
        DATA_KEY_FILE=tmp_path / "data.key",
        REDIS_URL=None,
    )
    clock = FixedClock(datetime(2026, 11, 21, 9, 0, tzinfo=WIB))
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client, clock


def _checks(client: TestClient, checks: dict[str, Any]) -> None:
    db = client.app.state.runtime.db  # type: ignore[attr-defined]
    with db.session() as session:
        if "registrations" in checks:
            assert session.scalar(select(func.count()).select_from(Registration)) == checks["registrations"]
        if "registration_state" in checks:
            states = list(session.scalars(select(Registration.state)))
            assert states and states[-1] == checks["registration_state"], states
        if "subscriber" in checks:
            statuses = list(session.scalars(select(Subscriber.status)))
            assert statuses == [checks["subscriber"]], statuses
        if "events" in checks:
            types = set(session.scalars(select(Event.type)))
            missing = set(checks["events"]) - types
            assert not missing, f"events not recorded: {missing}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_conversation(
    path: Path, golden_app: tuple[TestClient, FixedClock], request: pytest.FixtureRequest
) -> None:
    client, clock = golden_app
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    update = request.config.getoption("--update-golden")
    if spec.get("at"):
        clock.current = datetime.fromisoformat(str(spec["at"])).astimezone(WIB)
    sender = str(spec.get("sender") or path.stem)
    changed = False
    for number, turn in enumerate(spec["turns"], start=1):
        if "wait" in turn:
            clock.advance(_wait(str(turn["wait"])))
            continue
        response = client.post(
            "/webhooks/rest/webhook", json={"sender": sender, "message": str(turn["user"])}
        )
        assert response.status_code == 200, response.text
        said = _said(response.json())
        where = f"{path.name} turn {number} ({turn['user']!r})"
        assert all(m["text"] != text("trouble") for m in said), f"{where}: the app failed the turn"
        if "contains" in turn:
            joined = "\n".join(m["text"] for m in said)
            for word in turn["contains"]:
                assert str(word) in joined, f"{where}: {word!r} not in {joined!r}"
        elif update:
            if turn.get("bot") != said:
                turn["bot"], changed = said, True
        else:
            assert said == turn.get("bot"), where
    if changed:
        path.write_text(
            yaml.dump(spec, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8"
        )
    _checks(client, spec.get("checks") or {})
