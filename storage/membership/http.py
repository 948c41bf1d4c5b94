"""The `http` membership backend: a client of the membership API (docs/membership-api.md), the agency's core
system in production, or this project's own server (storage/membership/api.py) in tests and pilots.

Resilience, in the order a call meets it:
- a circuit breaker (breaker.py): after `failure_threshold` consecutive outages every call fails at once
  with BackendUnavailable until a cool-down has passed and one trial call has succeeded;
- a per-request timeout (connect, read, write and pool each);
- retries with exponential backoff and jitter (tenacity) on connection errors, timeouts and 5xx answers.
  Reads (lookup, status) are always retried. `register` is retried too, with the same `Idempotency-Key`:
  the API promises to answer a repeated key with the first receipt, so a retry after a timeout can never
  make a second registration (`retry_register=False` turns this off for a server that breaks the promise).

Errors: 404 → None; 409 → AlreadyRegistered; 422 → ApplicationRejected(reason); connection errors,
timeouts, 5xx and an open circuit → BackendUnavailable; an answer outside the documented API (401/403, 400,
an unreadable body) → BackendRefused, a BackendUnavailable that an operator must fix, logged as an error.
Nothing personal is logged: operations are named, never their arguments.
"""

from __future__ import annotations

import logging
from datetime import date
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

import httpx
import tenacity
from pydantic import BaseModel, SecretStr, ValidationError

from storage.membership import wire
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    BackendUnavailable,
    BpuApplication,
    MemberRecord,
    RegistrationReceipt,
    RegistrationStatus,
)
from storage.membership.breaker import CircuitBreaker

log = logging.getLogger(__name__)

_Model = TypeVar("_Model", bound=BaseModel)


class BackendRefused(BackendUnavailable):
    """The membership API answered outside its documented contract (a wrong token, a request it could not
    read, a body this client cannot parse). Retrying will not help until an operator fixes the setup."""


class _Outage(Exception):
    """An attempt met a connection error, a timeout or a 5xx: worth retrying, counts for the breaker."""


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, _Outage)


class HttpMembership:
    """MembershipBackend over the membership HTTP API. Thread-safe: one instance (one connection pool) per
    process. `transport` replaces the network (tests may pass an httpx.MockTransport)."""

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        timeout: float = 3.0,
        attempts: int = 3,
        backoff: float = 0.2,
        backoff_max: float = 2.0,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        retry_register: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not secret:
            raise ValueError("the membership API needs a bearer token (MEMBERSHIP_API_TOKEN)")
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {secret}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )
        self.breaker = CircuitBreaker(failure_threshold, reset_timeout, name="membership API")
        self._retry_register = retry_register
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, attempts)),
            wait=tenacity.wait_exponential(multiplier=backoff, max=backoff_max)
            + tenacity.wait_random(0, backoff),
            retry=tenacity.retry_if_exception_type(_Outage),
            before_sleep=self._log_retry,
            reraise=True,
        )

    # -- MembershipBackend ---------------------------------------------------------------------------
    def lookup(
        self, *, birth_date: date, nik: str | None = None, kpj: str | None = None
    ) -> MemberRecord | None:
        if (nik is None) == (kpj is None):
            raise ValueError("give exactly one of nik and kpj")
        body = wire.LookupRequest(birth_date=birth_date, nik=nik, kpj=kpj).model_dump(mode="json")
        response = self._send("lookup", "POST", "/lookup", json=body)
        if response.status_code == 404:
            return None
        return self._parse(response, wire.Member, "lookup").to_domain()

    def register(self, application: BpuApplication, *, idempotency_key: str) -> RegistrationReceipt:
        if not _valid_key(idempotency_key):
            raise ValueError("an idempotency key is 1-200 visible ASCII characters")
        response = self._send(
            "register",
            "POST",
            "/registrations",
            json=wire.Application.from_domain(application).model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
            retry=self._retry_register,
        )
        if response.status_code in (200, 201):
            receipt = self._parse(response, wire.Receipt, "register")
            return receipt.to_domain(replayed=response.status_code == 200)
        if response.status_code == 409:
            error = self._parse(response, wire.Error, "register", expected=(409,))
            if error.status is None:
                raise BackendRefused("membership API: 409 without the member's status")
            raise AlreadyRegistered(error.status)
        if response.status_code == 422:
            error = self._parse(response, wire.Error, "register", expected=(422,))
            raise ApplicationRejected(error.reason or "unspecified")
        raise self._refused(response, "register")

    def status(self, registration_number: str) -> RegistrationStatus | None:
        if not registration_number:
            return None
        path = "/registrations/" + quote(registration_number, safe="")
        response = self._send("status", "GET", path)
        if response.status_code == 404:
            return None
        return self._parse(response, wire.Status, "status").to_domain()

    def ping(self) -> bool:
        try:
            response = self._send("ping", "GET", "/health", retry=False)
        except BackendUnavailable:
            return False
        return response.status_code == 200

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpMembership:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------------
    def _send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """One call: attempts under the breaker, retried on outages; a non-5xx response is returned as is."""

        def attempt() -> httpx.Response:
            with self.breaker.guard(_is_outage):
                try:
                    response = self._client.request(method, path, json=json, headers=headers)
                except httpx.TimeoutException as exc:
                    raise _Outage(f"{op}: timed out") from exc
                except httpx.TransportError as exc:
                    raise _Outage(f"{op}: unreachable ({type(exc).__name__})") from exc
                if response.status_code >= 500:
                    raise _Outage(f"{op}: answered {response.status_code}")
                return response

        try:
            return self._retrying.copy()(attempt) if retry else attempt()
        except _Outage as exc:
            log.warning("membership API unavailable: %s", exc)
            raise BackendUnavailable(f"membership API {exc}") from exc

    def _parse(
        self,
        response: httpx.Response,
        model: type[_Model],
        op: str,
        *,
        expected: tuple[int, ...] = (200, 201),
    ) -> _Model:
        if response.status_code not in expected:
            raise self._refused(response, op)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            log.error("membership API %s: a %d answer this client cannot read", op, response.status_code)
            raise BackendRefused(f"membership API {op}: unreadable answer") from exc

    @staticmethod
    def _refused(response: httpx.Response, op: str) -> BackendRefused:
        code = response.status_code
        why = {401: "refused the token", 403: "forbade the call", 400: "could not read the request"}
        log.error("membership API %s: %s (%d)", op, why.get(code, "answered unexpectedly"), code)
        return BackendRefused(f"membership API {op}: {why.get(code, 'unexpected answer')} ({code})")

    @staticmethod
    def _log_retry(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "membership API %s; attempt %d failed, retrying in %.2fs", outcome, state.attempt_number, pause
        )


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 200 and all(0x21 <= ord(c) <= 0x7E for c in key)
