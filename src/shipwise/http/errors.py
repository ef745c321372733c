"""Errors rendered in one place, as JSON: ``{"error": message, "hint": what to do, ...}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipwise.errors import (
    ConfigError,
    ForbiddenError,
    InputError,
    NotFoundError,
    ShipwiseError,
    StoreError,
    TransientError,
    UnauthorizedError,
)

log = logging.getLogger(__name__)

#: status code of each kind of ShipwiseError (the first match wins)
STATUS: list[tuple[type[ShipwiseError], int]] = [
    (UnauthorizedError, 401), (ForbiddenError, 403), (InputError, 400), (NotFoundError, 404), (StoreError, 503), (ConfigError, 503),
    (TransientError, 503),
]


class ApiError(ShipwiseError):
    """An error with its HTTP status (and headers, and extra fields for the JSON body)."""

    def __init__(self, status: int, message: str, *, hint: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.headers = headers
        self.extra = extra


def error_response(status: int, message: str, hint: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: ShipwiseError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def shipwise_response(exc: ShipwiseError) -> JSONResponse:
    """The answer to one of our errors: what the app's handler sends, and what a route that
    bypasses FastAPI's machinery (the alarm webhooks' :class:`~shipwise.api.webhooks.AlarmIntake`)
    sends too, so error bodies have one shape everywhere."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, str(exc), exc.hint, exc.headers, **exc.extra)
    return error_response(status_of(exc), str(exc), exc.hint, **refusal_fields(exc))


def refusal_fields(exc: ShipwiseError) -> dict[str, Any]:
    """A policy refusal's machine fields (``action``, ``role``, ``allowed_roles``) and its
    ``detail`` in plain words — who may see this and why; nothing for other errors."""
    if not isinstance(exc, ForbiddenError) or exc.action is None:
        return {}
    out: dict[str, Any] = {"action": exc.action, "role": exc.role,
                           "allowed_roles": list(exc.allowed)}
    if exc.team is not None:
        out["team"] = exc.team
    if exc.detail:
        out["detail"] = exc.detail
    return out


async def _shipwise(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShipwiseError)
    return shipwise_response(exc)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(422, f"invalid request: {where}: {first.get('msg', 'invalid')}")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error", "see the server log")


async def render_error(request: Request, exc: Exception) -> JSONResponse | None:
    """The JSON answer for an expected error (ours, HTTP, validation); None for anything else."""
    if isinstance(exc, ShipwiseError):
        return await _shipwise(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return await _http(request, exc)
    if isinstance(exc, RequestValidationError):
        return await _validation(request, exc)
    return None


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ShipwiseError, _shipwise)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
