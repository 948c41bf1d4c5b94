"""The `http` membership backend and the membership API beyond the shared contract: authentication,
malformed requests, retries, timeouts, the idempotency key on a retried `register`, the circuit breaker.

The server is the project's own API (uvicorn on 127.0.0.1, a free port) over `sql` on SQLite, wrapped in
`Flaky` to play a core system that fails or answers late. Nothing is asserted about how long anything
took; counts of calls that reached the server say whether a call was retried or failed fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.settings import load_settings
from storage.db import Database
from storage.membership.api import membership_api
from storage.membership.base import AlreadyRegistered, BackendUnavailable
from storage.membership.breaker import CircuitBreaker, CircuitOpen
from storage.membership.factory import make_membership_backend
from storage.membership.http import BackendRefused, HttpMembership
from storage.membership.sql import SqlMembershipBackend
from storage.membership.wire import Application
from storage.models import Registration
from tests.storage.membership_support import (
    TOKEN,
    Flaky,
    application,
    free_port,
    new_key,
    serve,
    sqlite_database,
)

MakeClient = Callable[..., HttpMembership]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("membership-http") / "jamsosbot.db"
    with sqlite_database(str(path)) as database:
        yield database


@pytest.fixture(scope="module")
def served(db: Database) -> Iterator[tuple[Flaky, str]]:
    flaky = Flaky(SqlMembershipBackend(db))
    with serve(flaky) as url:
        yield flaky, url


@pytest.fixture
def flaky(served: tuple[Flaky, str]) -> Flaky:
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: tuple[Flaky, str]) -> str:
    return served[1]


@pytest.fixture
def make_client(url: str) -> Iterator[MakeClient]:
    made: list[HttpMembership] = []

    def make(**options: Any) -> HttpMembership:
        options = {"timeout": 5.0, "backoff": 0.01, "backoff_max": 0.05, **options}
        made.append(HttpMembership(options.pop("base_url", url), options.pop("token", TOKEN), **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def registrations_for(db: Database, nik: str) -> int:
    bidx = db.vault.blind_index("nik", nik)
    with db.session() as session:
        query = select(func.count()).select_from(Registration).where(Registration.nik_bidx == bidx)
        return int(session.scalar(query) or 0)


def eventually(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Wait for something the server does after the client stopped waiting."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def app_json() -> dict[str, Any]:
    return Application.from_domain(application()).model_dump(mode="json")


# -- the API: authentication and malformed requests -----------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_the_api_refuses_requests_without_the_right_token(
    url: str, flaky: Flaky, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=url, headers=headers) as raw:
        for response in (
            raw.get("/health"),
            raw.post("/lookup", json={"nik": "3204014501900001", "birth_date": "1990-01-05"}),
            raw.post("/registrations", content=b"not even json", headers={"Idempotency-Key": "k1"}),
            raw.get("/registrations/BPU-1999-000000"),
        ):
            assert response.status_code == 401
            assert response.json()["error"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
    assert sum(flaky.calls.values()) == 0


def test_a_client_with_a_wrong_token_gets_backend_refused(make_client: MakeClient) -> None:
    client = make_client(token="wrong-token-0123456789")
    with pytest.raises(BackendRefused):
        client.status("BPU-1999-000000")
    assert client.ping() is False


_NIK = "3204014501900001"
_LOOKUPS: list[Any] = [
    {"birth_date": "1990-01-05"},  # neither nik nor kpj
    {"nik": _NIK, "kpj": "12345678901", "birth_date": "1990-01-05"},  # both
    {"nik": _NIK},  # no birth date
    {"nik": _NIK, "birth_date": "1990-02-31"},  # no such day
    {"nik": _NIK, "birth_date": "kemarin"},
    {"nik": 3204014501900001, "birth_date": "1990-01-05"},  # a number, not a string
    {"nik": "x" * 500, "birth_date": "1990-01-05"},
    [_NIK, "1990-01-05"],
    "3204014501900001",
]


@pytest.mark.parametrize("body", _LOOKUPS)
def test_malformed_lookups_get_400_and_never_echo_the_values(url: str, flaky: Flaky, body: Any) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as raw:
        response = raw.post("/lookup", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert _NIK not in response.text
    assert flaky.calls["lookup"] == 0


def _broken(**changes: Any) -> dict[str, Any]:
    body = app_json()
    for name, value in changes.items():
        if value is ...:
            del body[name]
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (_broken(), None),  # no Idempotency-Key
        (_broken(), ""),
        (_broken(), "with spaces"),
        (_broken(), "k" * 201),
        (_broken(nik=...), "k-1"),
        (_broken(birth_date="05/11/1990"), "k-2"),
        (_broken(monthly_income="dua juta"), "k-3"),
        (_broken(programs=["jkk", "jp"]), "k-4"),
        (_broken(occupations=[]), "k-5"),
        (_broken(payment_months=None), "k-6"),
        (b"{not json", "k-7"),
        (b"", "k-8"),
    ],
)
def test_malformed_registrations_get_400(url: str, flaky: Flaky, body: Any, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    with httpx.Client(base_url=url, headers=headers) as raw:
        if isinstance(body, bytes):
            response = raw.post("/registrations", content=body)
        else:
            response = raw.post("/registrations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert flaky.calls["register"] == 0


def test_register_answers_201_then_200_with_the_same_body_for_a_replay(url: str, db: Database) -> None:
    body = app_json()
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": new_key()}
    with httpx.Client(base_url=url, headers=headers) as raw:
        first = raw.post("/registrations", json=body)
        again = raw.post("/registrations", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert registrations_for(db, body["nik"]) == 1


def test_api_errors_carry_a_code(url: str) -> None:
    body = app_json()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as raw:
        missing = raw.post("/lookup", json={"nik": body["nik"], "birth_date": body["birth_date"]})
        unknown = raw.get("/registrations/BPU-1999-000000")
        raw.post("/registrations", json=body, headers={"Idempotency-Key": new_key()})
        twice = raw.post("/registrations", json=body, headers={"Idempotency-Key": new_key()})
        old = raw.post(
            "/registrations", json=_broken(birth_date="1950-01-05"), headers={"Idempotency-Key": new_key()}
        )
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    assert (twice.status_code, twice.json()) == (
        409,
        {"error": "already_registered", "message": "already registered", "status": "awaiting_payment"},
    )
    assert (old.status_code, old.json()["error"]) == (422, "application_rejected")
    assert old.json()["reason"] in ("age_limit", "nik_birth_date_mismatch")


def test_health_reports_the_backend(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client()
    assert client.ping() is True
    flaky.fail["ping"] = 1
    assert client.ping() is False


def test_the_router_refuses_a_weak_token(db: Database) -> None:
    with pytest.raises(ValueError):
        membership_api(SqlMembershipBackend(db), "short")


# -- the client: outages, retries, timeouts -------------------------------------------------------------


def test_a_server_that_is_down_gives_backend_unavailable(make_client: MakeClient) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}/api/membership/v1", timeout=1.0)
    app = application()
    with pytest.raises(BackendUnavailable) as caught:
        client.lookup(nik=app.nik, birth_date=app.birth_date)
    assert not isinstance(caught.value, BackendRefused)
    with pytest.raises(BackendUnavailable):
        client.status("BPU-1999-000000")
    with pytest.raises(BackendUnavailable):
        client.register(app, idempotency_key=new_key())
    assert client.ping() is False


def test_a_slow_server_times_out_and_the_read_is_retried(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(timeout=0.2, attempts=2)
    flaky.slow["status"] = 2
    with pytest.raises(BackendUnavailable):
        client.status("BPU-1999-000000")
    assert eventually(lambda: flaky.calls["status"] == 2)


def test_5xx_then_success_is_retried(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=3)
    app = application()
    receipt = client.register(app, idempotency_key=new_key())
    flaky.reset()
    flaky.fail["lookup"] = 2
    record = client.lookup(kpj=receipt.kpj, birth_date=app.birth_date)
    assert record is not None and record.kpj == receipt.kpj
    assert flaky.calls["lookup"] == 3


def test_reads_give_up_after_their_attempts(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=3)
    flaky.fail["status"] = 10
    with pytest.raises(BackendUnavailable):
        client.status("BPU-1999-000000")
    assert flaky.calls["status"] == 3


def test_a_register_that_timed_out_is_retried_with_the_same_key(
    make_client: MakeClient, flaky: Flaky, db: Database
) -> None:
    """The server registers, then answers too late; the retry carries the same key and gets the receipt."""
    client = make_client(timeout=0.3, attempts=3)
    flaky.slow["register"] = 1
    app = application()
    receipt = client.register(app, idempotency_key=new_key())
    assert receipt.replayed is True  # the first attempt did register
    assert flaky.calls["register"] == 2
    assert registrations_for(db, app.nik) == 1
    assert client.status(receipt.registration_number) is not None


def test_register_after_a_503_is_retried_and_registers_once(
    make_client: MakeClient, flaky: Flaky, db: Database
) -> None:
    client = make_client(attempts=3)
    flaky.fail["register"] = 1
    app = application()
    receipt = client.register(app, idempotency_key=new_key())
    assert receipt.replayed is False
    assert flaky.calls["register"] == 2
    assert registrations_for(db, app.nik) == 1


def test_register_is_not_retried_when_told_not_to(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=3, retry_register=False)
    flaky.fail["register"] = 1
    app = application()
    key = new_key()
    with pytest.raises(BackendUnavailable):
        client.register(app, idempotency_key=key)
    assert flaky.calls["register"] == 1
    assert client.register(app, idempotency_key=key).replayed is False  # nothing was registered before


def test_refusals_are_not_retried(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=3)
    app = application()
    client.register(app, idempotency_key=new_key())
    with pytest.raises(AlreadyRegistered):
        client.register(replace(app, consent_id="again"), idempotency_key=new_key())
    assert client.lookup(nik=app.nik, birth_date=app.birth_date.replace(year=1960)) is None
    assert flaky.calls["register"] == 2 and flaky.calls["lookup"] == 1


def test_a_client_rejects_a_bad_idempotency_key_before_sending(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client()
    for key in ("", "has space", "k" * 201, "kunci-ü"):
        with pytest.raises(ValueError):
            client.register(application(), idempotency_key=key)
    assert flaky.calls["register"] == 0


# -- the circuit breaker --------------------------------------------------------------------------------


def test_the_breaker_opens_fails_fast_then_half_opens(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=1, failure_threshold=2, reset_timeout=0.3)
    flaky.fail["status"] = 100
    for _ in range(2):
        with pytest.raises(BackendUnavailable) as caught:
            client.status("BPU-1999-000000")
        assert not isinstance(caught.value, CircuitOpen)
    assert client.breaker.state == "open"
    with pytest.raises(CircuitOpen):
        client.status("BPU-1999-000000")
    assert client.ping() is False
    assert flaky.calls["status"] == 2  # failing fast never reached the server
    time.sleep(0.4)
    assert client.breaker.state == "half_open"
    flaky.fail.clear()
    assert client.status("BPU-1999-000000") is None  # the trial call goes through and succeeds
    assert client.breaker.state == "closed"
    assert flaky.calls["status"] == 3


def test_a_failed_trial_opens_the_breaker_again(make_client: MakeClient, flaky: Flaky) -> None:
    client = make_client(attempts=1, failure_threshold=1, reset_timeout=0.3)
    flaky.fail["status"] = 100
    with pytest.raises(BackendUnavailable):
        client.status("BPU-1999-000000")
    time.sleep(0.4)
    with pytest.raises(BackendUnavailable) as caught:
        client.status("BPU-1999-000000")  # the trial
    assert not isinstance(caught.value, CircuitOpen)
    assert client.breaker.state == "open"
    with pytest.raises(CircuitOpen):
        client.status("BPU-1999-000000")
    assert flaky.calls["status"] == 2


def test_answers_that_are_not_outages_keep_the_breaker_closed(make_client: MakeClient) -> None:
    client = make_client(attempts=1, failure_threshold=2)
    app = application()
    for _ in range(5):
        assert client.lookup(nik=app.nik, birth_date=app.birth_date) is None  # 404
    assert client.breaker.state == "closed"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _outage(exc: BaseException) -> bool:
    return isinstance(exc, OSError)


def _fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(OSError), breaker.guard(_outage):
        raise OSError("down")


def test_half_open_lets_one_trial_through_at_a_time() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock)
    _fail(breaker)
    clock.now = 11
    inside, release = threading.Event(), threading.Event()

    def trial() -> None:
        with breaker.guard(_outage):
            inside.set()
            release.wait(5)

    t = threading.Thread(target=trial)
    t.start()
    assert inside.wait(5)
    with pytest.raises(CircuitOpen), breaker.guard(_outage):
        pass
    release.set()
    t.join()
    assert breaker.state == "closed"


def test_consecutive_failures_only_open_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=_Clock())
    for _ in range(5):
        _fail(breaker)
        _fail(breaker)
        with breaker.guard(_outage):
            pass  # a success in between resets the count
    assert breaker.state == "closed"
    _fail(breaker)
    _fail(breaker)
    assert breaker.state == "closed"
    _fail(breaker)
    assert breaker.state == "open"


def test_an_exception_that_is_not_an_outage_gives_the_trial_back() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock)
    _fail(breaker)
    clock.now = 11
    with pytest.raises(KeyError), breaker.guard(_outage):
        raise KeyError("a bug, not an outage")
    assert breaker.state == "half_open"
    with breaker.guard(_outage):
        pass
    assert breaker.state == "closed"


# -- privacy and wiring ---------------------------------------------------------------------------------


def test_no_personal_value_reaches_the_logs(
    make_client: MakeClient, flaky: Flaky, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(attempts=2, failure_threshold=2, reset_timeout=30)
    app = application()
    flaky.fail["register"] = 1
    receipt = client.register(app, idempotency_key=new_key())
    flaky.fail["lookup"] = 5
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            client.lookup(nik=app.nik, birth_date=app.birth_date)
    assert caplog.records, "the outage should have been logged"
    text = caplog.text
    for value in (app.nik, app.full_name, app.birth_date.isoformat(), app.phone, receipt.kpj, app.address):
        assert str(value) not in text


def test_the_factory_builds_what_the_settings_ask_for(db: Database, url: str) -> None:
    assert isinstance(
        make_membership_backend(load_settings(membership_backend="sql"), db=db), SqlMembershipBackend
    )
    with pytest.raises(ValueError, match="MEMBERSHIP_API_URL"):
        make_membership_backend(load_settings(membership_backend="http", membership_api_url=None))
    with pytest.raises(ValueError, match="MEMBERSHIP_API_TOKEN"):
        make_membership_backend(
            load_settings(membership_backend="http", membership_api_url=url, membership_api_token=None)
        )
    backend = make_membership_backend(
        load_settings(membership_backend="http", membership_api_url=url, membership_api_token=TOKEN)
    )
    assert isinstance(backend, HttpMembership)
    assert backend.ping() is True
    backend.close()
