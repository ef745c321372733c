"""The dashboard's routes: sign-in/out and one builder per page. A builder takes the store and the
page's :class:`~shipwise.app.caller.Caller` and returns the page's data; the same data is the
page's JSON twin (``<path>.json`` or ``?format=json``). Authorisation happens in the doors of
:mod:`shipwise.app`, and a page is one user action — one access-log row — however many doors it
reads; a refusal renders a page saying what the role may not see (401 sends the browser to the
sign-in page instead)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from shipwise.app import ask
from shipwise.app.caller import Caller, Principal
from shipwise.app.guard import one_action
from shipwise.app.org import whoami
from shipwise.app.results import dump
from shipwise.app.tokens import authenticate
from shipwise.errors import ShipwiseError, UnauthorizedError
from shipwise.http.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    client_of,
    end_session,
    make_session,
    request_principal,
)
from shipwise.http.errors import refusal_fields, status_of
from shipwise.web import ai as ai_page
from shipwise.web import diagnostics, governance, pages
from shipwise.web import prevention as prevention_page
from shipwise.web import response as response_page
from shipwise.web.render import STATIC, environment

CSRF_COOKIE = "shipwise_csrf"
HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self' "
                                "'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Builder = Callable[[Caller], dict[str, Any]]

router = APIRouter(include_in_schema=False)


def mount(app: FastAPI) -> None:
    """Add the pages and the vendored static files (``/static``) to the app."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")


# -- helpers --------------------------------------------------------------------------------------

def csrf_token(session: str) -> str:
    """The per-session CSRF token for forms: derived from the (HttpOnly, signed) session cookie,
    so another site can neither read nor forge it."""
    return hashlib.sha256(f"shipwise-csrf:{session}".encode()).hexdigest()


def _wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or request.query_params.get("format") == "json"


def _html(request: Request, template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
    session = request.cookies.get(SESSION_COOKIE, "")
    body = environment().get_template(template).render(
        path=request.url.path, csrf=csrf_token(session) if session else "", **ctx)
    return HTMLResponse(body, status_code=code, headers=HEADERS)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _landing(p: Principal) -> str:
    if p.role in ("member", "lead") and p.team:
        return f"/teams/{quote(p.team)}"
    return "/org/cost" if p.role == "exec" else "/"


def _error(request: Request, exc: ShipwiseError, me: dict[str, Any] | None) -> Response:
    """The error page: a refusal says in plain words who may see the page and why (the charter's
    reason, ``detail``) and which pages the reader may open instead."""
    return _html(request, "error.html", status_of(exc), me=me, status=status_of(exc),
                 message=str(exc), hint=exc.hint, refusal=refusal_fields(exc))


def _page(request: Request, template: str, build: Builder) -> Response:
    """Run ``build`` as the caller; render HTML, or its JSON twin. Errors of a JSON twin go to the
    app's JSON error handler; errors of a page render the friendly error page."""
    want_json = _wants_json(request)
    me: dict[str, Any] | None = None
    try:
        state = request.app.state.shipwise
        with state.store.session() as store:
            principal = request_principal(request, store)
            caller = Caller(store, principal, state.settings, "web")
            me = dump(whoami(caller))
            with one_action(caller, f"page:{request.url.path}"):
                data = build(caller)
    except UnauthorizedError:
        if want_json:
            raise
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
    except ShipwiseError as exc:
        if want_json:
            raise
        return _error(request, exc, me)
    if want_json:
        return JSONResponse(jsonable_encoder(data), headers={"Cache-Control": "no-store"})
    return _html(request, template, me=me, data=data)


# -- sign-in and sign-out -------------------------------------------------------------------------

@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    resp = _html(request, "signin.html", me=None, form_csrf=token, next=_safe_next(next) or "",
                 error=None)
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                    path="/signin", max_age=3600)
    return resp


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await _form(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    nxt = _safe_next(form.get("next"))
    if not cookie or not hmac.compare_digest(cookie, form.get("csrf", "")):
        return _signin_error(request, 403, "this form expired or came from another site",
                             nxt)
    state = request.app.state.shipwise

    def start() -> tuple[Principal, str]:  # in a worker thread: the store may be busy
        with state.store.session() as store:
            try:
                principal = authenticate(store, form.get("token", ""))
            except UnauthorizedError as exc:
                state.refusals.record(store, source=client_of(request), interface="web",
                                      what=f"sign-in refused: {exc}",
                                      presented=form.get("token", ""))
                raise
            assert principal.token_id is not None
            return principal, make_session(store, state.sessions, principal.token_id)

    try:
        principal, session = await run_in_threadpool(start)
    except UnauthorizedError as exc:
        return _signin_error(request, 401, f"{exc}{f' — {exc.hint}' if exc.hint else ''}", nxt)
    resp = RedirectResponse(nxt or _landing(principal), status_code=303)
    resp.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict",
                    secure=_secure(request), max_age=SESSION_SECONDS, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/signin")
    return resp


def _signin_error(request: Request, status: int, message: str, nxt: str | None) -> Response:
    token = secrets.token_urlsafe(24)
    resp = _html(request, "signin.html", status, me=None, form_csrf=token, next=nxt or "",
                 error=message)
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                    path="/signin", max_age=3600)
    return resp


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await _form(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    if session and not hmac.compare_digest(csrf_token(session), form.get("csrf", "")):
        return _html(request, "error.html", 403, me=None, status=403,
                     message="this sign-out form expired or came from another site",
                     hint="reload the page and sign out again")
    if session:  # ended server-side: the cookie no longer works anywhere, even if kept
        state = request.app.state.shipwise

        def end() -> None:
            with state.store.session() as store:
                end_session(store, state.sessions, session)

        await run_in_threadpool(end)
    resp = RedirectResponse("/signin", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -- pages ----------------------------------------------------------------------------------------

@router.get("/")
@router.get("/index.json")
def overview(request: Request) -> Response:
    return _page(request, "overview.html", pages.overview)


@router.get("/teams/{team:path}")
def team(request: Request, team: str, grain: str = "quarter") -> Response:
    name = team.removesuffix(".json") if request.url.path.endswith(".json") else team
    return _page(request, "team.html", lambda c: pages.team(c, name, grain))


@router.get("/org")
@router.get("/org.json")
def org(request: Request, grain: str = "quarter") -> Response:
    return _page(request, "org.html", lambda c: diagnostics.org(c, pages.check_grain(grain)))


@router.get("/org/cost")
@router.get("/org/cost.json")
def org_cost(request: Request, grain: str = "quarter") -> Response:
    return _page(request, "org_cost.html", lambda c: pages.org_cost(c, grain))


@router.get("/ai")
@router.get("/ai.json")
def ai(request: Request) -> Response:
    return _page(request, "ai.html", ai_page.page)


@router.get("/metrics")
@router.get("/metrics.json")
def metrics(request: Request) -> Response:
    return _page(request, "metrics.html", pages.catalog)


@router.get("/metrics/{metric_id}")
def metric(request: Request, metric_id: str) -> Response:
    mid = metric_id.removesuffix(".json") if request.url.path.endswith(".json") else metric_id
    return _page(request, "metric.html", lambda c: pages.metric(c, mid))


@router.get("/investigations")
@router.get("/investigations.json")
def investigations(request: Request) -> Response:
    return _page(request, "investigations.html", pages.investigations)


@router.get("/investigations/{inv_id}")
def investigation(request: Request, inv_id: str) -> Response:
    iid = inv_id.removesuffix(".json") if request.url.path.endswith(".json") else inv_id
    return _page(request, "investigation.html", lambda c: pages.investigation(c, iid))


async def _act(request: Request, do: Callable[[Caller, dict[str, str]], object],
               back: str) -> Response:
    """A form of a page: checks the CSRF token of the browser session (a bearer-token client
    sends no ambient credential, so needs none), runs ``do`` as the caller — one door, one
    access-log row — and sends the browser back to ``back`` (303; HTMX swaps the new page in).
    A refusal or bad input renders the error page with its status."""
    form = await _form(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    if session and not hmac.compare_digest(csrf_token(session), form.get("csrf", "")):
        return _html(request, "error.html", 403, me=None, status=403,
                     message="this form expired or came from another site",
                     hint="reload the page and try again")
    state = request.app.state.shipwise

    def run() -> None:
        with state.store.session() as store:
            caller = Caller(store, request_principal(request, store), state.settings, "web")
            do(caller, form)

    try:
        await run_in_threadpool(run)
    except UnauthorizedError:
        return RedirectResponse(f"/signin?next={quote(back)}", status_code=303)
    except ShipwiseError as exc:
        return _error(request, exc, None)
    return RedirectResponse(back, status_code=303)


@router.post("/investigations/{inv_id}/verdict")
async def investigation_verdict(request: Request, inv_id: str) -> Response:
    return await _act(request, lambda c, form: prevention_page.mark(c, inv_id, form),
                      f"/investigations/{quote(inv_id)}")


@router.post("/investigations/{inv_id}/resolve")
async def resolve_actor(request: Request, inv_id: str) -> Response:
    """Who is behind a pseudonym (an on-call responder): the investigation page with the answer
    in its "who to call" panel — rendered, never redirected to, so the identity is in no URL and
    no history; the page is not cached (``no-store``)."""
    form = await _form(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    if session and not hmac.compare_digest(csrf_token(session), form.get("csrf", "")):
        return _html(request, "error.html", 403, me=None, status=403,
                     message="this form expired or came from another site",
                     hint="reload the page and try again")
    state = request.app.state.shipwise

    def run() -> tuple[dict[str, Any], dict[str, Any]]:
        with state.store.session() as store:
            caller = Caller(store, request_principal(request, store), state.settings, "web")
            resolution = response_page.resolve(caller, inv_id, form)
            with one_action(caller, f"page:/investigations/{inv_id}"):
                data = pages.investigation(caller, inv_id)
            return {**data, "resolution": resolution}, dump(whoami(caller))

    try:
        data, me = await run_in_threadpool(run)
    except UnauthorizedError:
        return RedirectResponse(f"/signin?next={quote('/investigations/' + inv_id)}",
                                status_code=303)
    except ShipwiseError as exc:
        return _html(request, "error.html", status_of(exc), me=None, status=status_of(exc),
                     message=str(exc), hint=exc.hint)
    return _html(request, "investigation.html", me=me, data=data)


# -- imported incidents ---------------------------------------------------------------------------

@router.get("/incidents")
@router.get("/incidents.json")
def incident_list(request: Request, team: str = "", service: str = "", severity: str = "",
                  since: str = "", until: str = "", open: str = "", limit: int = 200) -> Response:
    return _page(request, "incidents.html", lambda c: response_page.incident_list(
        c, team=team, service=service, severity=severity, since=since, until=until,
        open_only=open, limit=limit))


@router.get("/incidents/{incident_id}")
def incident(request: Request, incident_id: str) -> Response:
    iid = incident_id.removesuffix(".json") if request.url.path.endswith(".json") else incident_id
    return _page(request, "incident.html", lambda c: response_page.incident(c, iid))


# -- prevention -----------------------------------------------------------------------------------

@router.get("/prevention")
@router.get("/prevention.json")
def prevention(request: Request, status: str = "", category: str = "",
               all: str = "") -> Response:
    return _page(request, "prevention.html", lambda c: prevention_page.page(
        c, status=status, category=category, show_all=all in ("1", "yes", "true", "on")))


@router.post("/prevention/{key}/status")
async def prevention_status(request: Request, key: str) -> Response:
    return await _act(request, lambda c, form: prevention_page.decide(c, key, form),
                      f"/prevention#rec-{quote(key, safe=':')}")
@router.post("/investigations/{inv_id}/ask")
async def ask_investigation(request: Request, inv_id: str) -> Response:
    """The chat panel of an investigation page: the answer as an HTML fragment for htmx to
    append (``HX-Request``), or the page with the answer under its chat panel without
    JavaScript. A signed-in browser's form carries the session's CSRF token."""
    form = await _form(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    fragment = request.headers.get("hx-request") == "true"
    if session and not request.headers.get("authorization") and not hmac.compare_digest(
            csrf_token(session), form.get("csrf", "")):
        return _html(request, "_answer.html", 403, answer=None,
                     error="this form expired or came from another site: reload the page")
    question = form.get("question", "")
    state = request.app.state.shipwise

    def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        with state.store.session() as store:
            caller = Caller(store, request_principal(request, store), state.settings, "web")
            answer = dump(ask.ask(caller, inv_id, question))
            if fragment:
                return answer, {}, None
            me = dump(whoami(caller))
            with one_action(caller, f"page:/investigations/{inv_id}"):
                return answer, pages.investigation(caller, inv_id), me

    try:
        answer, data, me = await run_in_threadpool(run)
    except UnauthorizedError:
        if fragment:
            return _html(request, "_answer.html", 401, answer=None,
                         error="signed out: sign in again")
        return RedirectResponse(f"/signin?next={quote('/investigations/' + inv_id)}",
                                status_code=303)
    except ShipwiseError as exc:
        return _html(request, "_answer.html", status_of(exc), answer=None,
                     error=str(exc) + (f" ({exc.hint})" if exc.hint else ""))
    if fragment:
        return _html(request, "_answer.html", answer=answer)
    return _html(request, "investigation.html", me=me, data=data, answers=[answer])


# -- governance -----------------------------------------------------------------------------------

@router.get("/charter")
@router.get("/charter.json")
def charter(request: Request) -> Response:
    return _page(request, "charter.html", governance.charter)


@router.get("/audit")
@router.get("/audit.json")
def audit(request: Request, people_derived: str = "", since: str = "",
          limit: int = 200) -> Response:
    return _page(request, "audit.html", lambda c: governance.audit(
        c, people_derived=people_derived, since=since, limit=limit))


@router.get("/fairness")
@router.get("/fairness.json")
def fairness(request: Request) -> Response:
    return _page(request, "fairness.html", governance.fairness)
