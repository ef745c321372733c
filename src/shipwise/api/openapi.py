"""OpenAPI links: how one answer feeds the next request, added to ``/openapi.json``.

FastAPI cannot infer them (answers are free-form JSON), so they are declared here, in one table,
by method and path; the schema fails to build if a path named here no longer exists. Clients read
them as documentation; ``tests/server/test_api_stateful.py`` follows them (schemathesis stateful):
create a token then revoke it, start an investigation then list alarms and investigations, receive
a webhook (accepted or refused) then list alarms, run retention then list the runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

Op = tuple[str, str]  # (method, path)

_TEAM_VIEWS = ("dora", "cost", "flow", "strain", "slo")
_WEBHOOKS = ("alertmanager", "grafana", "datadog", "dynatrace", "cloudwatch", "generic", "alarm")

#: (source operation, its status, link name, target operation, parameters, request body)
LINKS: list[tuple[Op, str, str, Op, dict[str, str], dict[str, Any] | None]] = [
    *[(("GET", "/api/v1/teams"), "200", f"team_{view}",
       ("GET", f"/api/v1/teams/{{team}}/{view}"), {"path.team": "$response.body#/0/team"}, None)
      for view in _TEAM_VIEWS],
    *[(("GET", "/api/v1/me"), "200", f"own_team_{view}",
       ("GET", f"/api/v1/teams/{{team}}/{view}"), {"path.team": "$response.body#/team"}, None)
      for view in _TEAM_VIEWS],
    (("GET", "/api/v1/metrics"), "200", "metric", ("GET", "/api/v1/metrics/{metric_id}"),
     {"path.metric_id": "$response.body#/0/id"}, None),
    (("GET", "/api/v1/metrics"), "200", "charter_entry", ("GET", "/api/v1/charter/{metric_id}"),
     {"path.metric_id": "$response.body#/0/id"}, None),
    (("GET", "/api/v1/teams"), "200", "team_token", ("POST", "/api/v1/tokens"), {},
     {"team": "$response.body#/0/team"}),
    (("POST", "/api/v1/tokens"), "201", "revoke", ("DELETE", "/api/v1/tokens/{token_id}"),
     {"path.token_id": "$response.body#/id"}, None),
    (("POST", "/api/v1/tokens"), "201", "list_tokens", ("GET", "/api/v1/tokens"), {}, None),
    (("GET", "/api/v1/services"), "200", "investigate", ("POST", "/api/v1/investigations"), {},
     {"entity": "$response.body#/0/service"}),
    (("POST", "/api/v1/investigations"), "202", "alarms", ("GET", "/api/v1/alarms"), {}, None),
    (("POST", "/api/v1/investigations"), "202", "investigations",
     ("GET", "/api/v1/investigations"), {}, None),
    (("GET", "/api/v1/investigations"), "200", "investigation",
     ("GET", "/api/v1/investigations/{inv_id}"), {"path.inv_id": "$response.body#/0/id"}, None),
    (("POST", "/api/v1/admin/retention"), "200", "runs", ("GET", "/api/v1/admin/retention"), {},
     None),
    *[(("POST", f"/webhooks/{hook}"), status, "alarms", ("GET", "/api/v1/alarms"), {}, None)
      for hook in _WEBHOOKS for status in ("202", "400")],  # a refused body is stored too
]


def add_links(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with :data:`LINKS` in its responses (by operationId); KeyError on a stale path."""
    paths = spec["paths"]
    for (method, path), status, name, (t_method, t_path), params, body in LINKS:
        target = paths[t_path][t_method.lower()]["operationId"]
        response = paths[path][method.lower()]["responses"].setdefault(
            status, {"description": "See the operation's description."})
        link: dict[str, Any] = {"operationId": target}
        if params:
            link["parameters"] = params
        if body is not None:
            link["requestBody"] = body
        response.setdefault("links", {})[name] = link
    return spec


def install_links(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI schema with :data:`LINKS` (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
