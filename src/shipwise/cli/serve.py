"""``shipwise serve``: the HTTP server (dashboard, REST API, MCP, alarm webhooks) under uvicorn."""

from __future__ import annotations

import click

from shipwise.cli.access import runs_as
from shipwise.errors import ConfigError, StoreError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on [default: server.host, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port [default: server.port, 8000].")
@click.option("--insecure-webhooks", is_flag=True,
              help="Accept webhooks without a secret when none is configured (local demos; "
                   "loopback host only).")
@click.pass_context
@runs_as("admin.serve")
def serve_cmd(ctx: click.Context, host: str | None, port: int | None,
              insecure_webhooks: bool) -> None:
    """Serve the web dashboard (sign in at /signin with a token from `shipwise token create`),
    the REST API (/api/v1) and MCP (/mcp), and receive alarms by webhook and investigate them in
    the background.

    Webhook endpoints: POST /webhooks/alertmanager, /webhooks/grafana, /webhooks/datadog,
    /webhooks/dynatrace, /webhooks/cloudwatch, /webhooks/generic and /webhooks/alarm (any kind);
    OTLP/HTTP traces and logs at POST /v1/traces and /v1/logs (docs/otlp.md); GET /healthz and
    /readyz. Webhooks need the
    shared secret (webhooks.secret or SHIPWISE_WEBHOOK_SECRET) as a Bearer token, Basic auth
    password or ?token=. See docs/alarms.md. The server holds the store while it runs, and other shipwise
    commands on it run through the server (docs/architecture.md)."""
    from shipwise.cli.main import settings_from

    settings = settings_from(ctx)
    host = host or settings.server.host
    port = port or settings.server.port
    if not settings.db.exists():
        raise StoreError(f"no shipwise store at {settings.db}", hint="run `shipwise init` first")
    from shipwise.http.local import running_server

    if (other := running_server(settings.db)) is not None:
        raise StoreError(f"{settings.db} is already served by process {other.pid} at {other.url}",
                         hint="use that server, or stop it first")
    secret = settings.webhooks.secret is not None
    if insecure_webhooks and not secret and host not in LOOPBACK:
        raise ConfigError(f"--insecure-webhooks on {host}: anyone who reaches it could post alarms",
                          hint="listen on 127.0.0.1, or configure webhooks.secret")

    import logging

    import uvicorn

    # One handler, on the root logger: the MCP server, created with the app, would otherwise add
    # a rich handler there (logging.basicConfig) and print every line a second time, rendered
    # at some cost per line. Others' INFO lines (MCP's per request) stay off; shipwise's are kept.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("shipwise").setLevel(logging.INFO)
    # every request a webhook-triggered sync makes would be a line (httpx logs them at INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from shipwise.server import create_app

    shown = f"[{host}]" if ":" in host else host
    local = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else shown
    from shipwise.cli.main import run

    app = create_app(settings, insecure_webhooks=insecure_webhooks, url=f"http://{local}:{port}",
                     commands=lambda argv: run(argv, relayed=True))
    for line in banner(str(settings.db), f"http://{shown}:{port}", f"http://{local}:{port}",
                       secret=secret, insecure=insecure_webhooks):
        click.echo(line)
    uvicorn.run(app, host=host, port=port, log_level="info",
                access_log=settings.server.access_log)


def banner(db: str, bound: str, url: str, *, secret: bool, insecure: bool) -> list[str]:
    """What ``serve`` prints before it starts: where the dashboard is and how to sign in, the
    API and MCP, and whether alarm webhooks are on — in words. ``bound``: the address it
    listens on; ``url``: one a browser on this machine can open (0.0.0.0 → 127.0.0.1)."""
    lines = [f"shipwise serving {db} on {bound}",
             f"  dashboard: {url}/ — sign in at {url}/signin with an API token",
             "    no token yet? In another terminal: shipwise token create --name you --role admin",
             "    (shown once; roles member, lead, exec, admin; --team T for a member or lead)",
             f"  REST API: {url}/api/v1 (Authorization: Bearer <token>; OpenAPI: /openapi.json)",
             f"  MCP: {url}/mcp (Authorization: Bearer <token>)",
             f"  alarm webhooks: {bound}/webhooks/{{alertmanager,grafana,datadog,dynatrace,",
             "    cloudwatch,generic,alarm}; OTLP/HTTP traces and logs: /v1/traces, /v1/logs"]
    if secret:
        lines.append("    on: senders present the shared secret (Authorization: Bearer, Basic "
                     "password or ?token=)")
    elif insecure:
        lines.append("    on WITHOUT authentication (--insecure-webhooks): anyone who reaches this "
                     "address can post alarms — local demos only")
    else:
        lines += ["    off: no shared secret is configured, so webhooks and OTLP are refused "
                  "(HTTP 503) — the",
                  "    dashboard, API and MCP work. To receive alarms, set webhooks.secret in "
                  "shipwise.yaml or",
                  "    SHIPWISE_WEBHOOK_SECRET and restart (for a local demo: --insecure-webhooks)."]
    lines += ["  health: /healthz /readyz — Ctrl-C stops (queued investigations finish first)",
              "  other shipwise commands on this store run through this server while it runs"]
    return lines
