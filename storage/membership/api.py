"""The membership HTTP API (docs/membership-api.md), served from any MembershipBackend.

The project serves it from its own `sql` backend so that the `http` backend, and the agency's core system
that speaks the same API, can be tested with one contract suite. The web app mounts the router:

    app.include_router(membership_api(backend, token), prefix="/api/membership/v1")

Every route requires `Authorization: Bearer <token>` (compared in constant time) and answers 401 without
it, before the body is even read. A malformed request answers 400 `invalid_request`, never 500; 422 is kept
for the backend's own refusals (`application_rejected`). Handlers are plain functions: FastAPI runs them in
its thread pool, as the synchronous backends require.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import SecretStr

from storage.membership import wire
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    BackendUnavailable,
    MembershipBackend,
)

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": wire.Error, "description": "Malformed request (invalid_request)"},
    401: {"model": wire.Error, "description": "Missing or wrong bearer token (unauthorized)"},
    503: {"model": wire.Error, "description": "The backend is down (unavailable); retry later"},
    # also keeps FastAPI from advertising its default 422 body, which this API never sends for bad input
    "4XX": {"model": wire.Error, "description": "Any other client error, with its error code"},
}


def error_response(
    status_code: int,
    code: wire.ErrorCode,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = wire.Error(error=code, message=message, **extra).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


def _route_class(token: bytes) -> type[APIRoute]:
    """An APIRoute that checks the bearer token first and turns request validation errors into 400."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                scheme, _, given = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token):
                    return error_response(
                        401,
                        "unauthorized",
                        "a valid bearer token is required",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    # where and what went wrong, never the value sent (it may be a NIK)
                    detail = [
                        {"loc": list(e.get("loc", ())), "type": e.get("type", "")} for e in exc.errors()
                    ]
                    return error_response(400, "invalid_request", "the request is malformed", detail=detail)

            return guarded

    return GuardedRoute


def _unavailable(exc: BackendUnavailable) -> JSONResponse:
    log.warning("membership backend unavailable: %s", type(exc).__name__)
    return error_response(503, "unavailable", "the membership backend is unavailable; retry later")


def membership_api(backend: MembershipBackend, token: str | SecretStr) -> APIRouter:
    """The API's routes over `backend`, guarded by `token` (at least 16 characters)."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if len(secret) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the membership API token must be at least {MIN_TOKEN_LENGTH} characters")
    router = APIRouter(route_class=_route_class(secret.encode()), tags=["membership"], responses=_ERRORS)

    @router.post(
        "/lookup",
        response_model=wire.Member,
        responses={404: {"model": wire.Error, "description": "No member with this NIK/KPJ and birth date"}},
    )
    def lookup(body: wire.LookupRequest) -> Response:
        """The member whose NIK (or KPJ) and birth date both match; 404 when either does not."""
        try:
            record = backend.lookup(birth_date=body.birth_date, nik=body.nik, kpj=body.kpj)
        except BackendUnavailable as exc:
            return _unavailable(exc)
        if record is None:
            return error_response(404, "not_found", "no member matches")
        return JSONResponse(wire.Member.from_domain(record).model_dump(mode="json"))

    @router.post(
        "/registrations",
        status_code=201,
        response_model=wire.Receipt,
        responses={
            200: {"model": wire.Receipt, "description": "A replay: this Idempotency-Key was seen before"},
            409: {"model": wire.Error, "description": "The NIK already has a live membership"},
            422: {"model": wire.Error, "description": "The application is refused; see `reason`"},
        },
    )
    def register(
        body: wire.Application,
        idempotency_key: Annotated[
            str, Header(alias="Idempotency-Key", pattern=wire.IDEMPOTENCY_KEY_PATTERN, max_length=200)
        ],
    ) -> Response:
        """Submit a BPU application. A repeated Idempotency-Key returns the first receipt (200)."""
        try:
            receipt = backend.register(body.to_domain(), idempotency_key=idempotency_key)
        except AlreadyRegistered as exc:
            return error_response(409, "already_registered", "already registered", status=exc.status)
        except ApplicationRejected as exc:
            return error_response(422, "application_rejected", "application refused", reason=exc.reason)
        except BackendUnavailable as exc:
            return _unavailable(exc)
        body_out = wire.Receipt.from_domain(receipt).model_dump(mode="json")
        return JSONResponse(body_out, status_code=200 if receipt.replayed else 201)

    @router.get(
        "/registrations/{registration_number}",
        response_model=wire.Status,
        responses={404: {"model": wire.Error, "description": "Unknown registration number"}},
    )
    def status(registration_number: Annotated[str, Path(min_length=1, max_length=64)]) -> Response:
        """The state of one registration."""
        try:
            found = backend.status(registration_number)
        except BackendUnavailable as exc:
            return _unavailable(exc)
        if found is None:
            return error_response(404, "not_found", "no such registration")
        return JSONResponse(wire.Status.from_domain(found).model_dump(mode="json"))

    @router.get("/health", response_model=wire.Health, responses={503: {"model": wire.Health}})
    def health() -> Response:
        """200 when the backend answers, else 503."""
        try:
            ok = backend.ping()
        except Exception:  # a health check reports, it does not crash
            log.warning("membership backend ping failed", exc_info=True)
            ok = False
        body = wire.Health(status="ok" if ok else "unavailable").model_dump()
        return JSONResponse(body, status_code=200 if ok else 503)

    return router
