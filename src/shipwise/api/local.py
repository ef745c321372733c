"""``POST /local/run``: a command of another local process, run by the server that holds the
store (see :mod:`shipwise.http.local`). Not part of the public API: it answers only this run's
secret (the server file beside the store), from a loopback client."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from shipwise.errors import UnauthorizedError
from shipwise.http.auth import client_of
from shipwise.http.local import SECRET_HEADER, secret_matches
from shipwise.http.security import State

router = APIRouter(include_in_schema=False)


class RunRequest(BaseModel):
    argv: list[str] = Field(max_length=4096)
    #: the environment the command reads settings and secrets from (the caller's)
    env: dict[str, str] = Field(default_factory=dict)


@router.post("/local/run")
def run_command(request: Request, state: State, body: RunRequest) -> StreamingResponse:
    if not secret_matches(state.advertised, request.headers.get(SECRET_HEADER),
                          client_of(request)):
        raise UnauthorizedError("not this server's local secret",
                                hint="run the command on the machine the server runs on, as "
                                     "the user who owns the store")
    return StreamingResponse(state.run_relayed(body.argv, body.env),
                             media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store"})
