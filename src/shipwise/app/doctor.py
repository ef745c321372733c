"""``shipwise doctor``: what stands between this installation and correct numbers, cheapest first.

The checks run in order of cost: the settings (already valid, or the CLI reports why not), the
store and its key, then each source — secrets present, then the connector's own checks (host
reachable, token scopes, rate limit left, every repository found and mapped to a service), then
the outcome of its last sync. Each problem is one sentence that says what to do. Nothing here
prints or stores a secret: a token is looked up only to say whether it is there.
"""

from __future__ import annotations

from shipwise.app.caller import Caller
from shipwise.app.cost import reporting_currency
from shipwise.app.guard import guard
from shipwise.app.results import DoctorCheck, DoctorReport
from shipwise.app.sync import connector_for
from shipwise.errors import InputError, ShipwiseError
from shipwise.investigate.sources import sources_from_settings
from shipwise.metrics.cost import missing_rates_sql
from shipwise.metrics.engines import DuckDBEngine
from shipwise.store import sync_state
from shipwise.store.import_state import unfinished
from shipwise.store.org import service_map


def _one(area: str, what: str, problem: str | None) -> DoctorCheck:
    return DoctorCheck(area=area, what=what, ok=problem is None, problem=problem)


def _currency_check(caller: Caller) -> DoctorCheck | None:
    """Every cost and investment record can be reported in the reporting currency: the months
    and currencies without an ``fx_rate`` (None when there are no cost records)."""
    store, setting = caller.store, caller.settings.cost.reporting_currency
    what = "every cost and investment has an exchange rate to the reporting currency"
    try:
        currency = reporting_currency(DuckDBEngine(store), setting)
    except InputError as exc:
        return _one("cost", what, f"{exc}: {exc.hint}")
    if currency is None:
        return None
    missing = store.con.execute(missing_rates_sql(), [currency, currency]).fetchall()
    if not missing:
        return _one("cost", what, None)
    listed = ", ".join(f"{month} {cur} ({n} record{'s' if n != 1 else ''})"
                       for month, cur, n in missing[:12])
    more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
    return _one("cost", what,
                f"no rate to {currency} for {listed}{more}: those costs are left out of cost to "
                "serve (reported as unconverted); import `fx_rate` records for these months "
                "(docs/canonical-format.md)")


@guard("admin.ingest", "doctor")
def doctor(caller: Caller, names: tuple[str, ...] = ()) -> DoctorReport:
    """Every check, cheapest first; ``names`` limits the source checks to those sources."""
    store, settings = caller.store, caller.settings
    report = DoctorReport()
    add = report.checks.append
    add(_one("settings", "shipwise.yaml is valid", None))
    left = unfinished(store)
    what_left = ", ".join(str(x) for x in left.get("sources") or []) if left else ""  # type: ignore[attr-defined]
    add(_one("store", f"store {settings.db} opens at the current schema",
             None if left is None else
             f"the {left.get('kind', 'import')} of {what_left} "
             f"started {left.get('started_at', '?')} did not finish: run it again (nothing is "
             "counted twice)"))
    currency = _currency_check(caller)
    if currency is not None:
        add(currency)
    for evidence in sources_from_settings(settings.investigate):  # files, Prometheus, MCP…
        problems = evidence.check()  # settings only: no query, no process started
        add(_one(f"evidence {evidence.name}", evidence.describe(),
                 "; ".join(problems) + " (investigate.sources in shipwise.yaml)"
                 if problems else None))
    if not settings.sources:
        add(_one("sources", "sources are configured",
                 "no sources are configured: add a `sources:` list to shipwise.yaml "
                 "(docs/sync.md) to read GitHub, GitLab or local repositories"))
        return report
    services = service_map(store)
    if not services.services:
        add(_one("organisation", "services are defined",
                 "no services are defined, so no deployment can be attributed: describe teams "
                 "and services in an organisation file and run `shipwise org apply org.yaml`"))
    for source in settings.sources:
        if names and source.id not in names:
            continue
        area = f"source {source.id}"
        if source.kind != "git":
            token_env = source.token_env
            has = source.token(required=False) is not None
            add(_one(area, "token present", None if has else (
                f"no token for {source.id}: export {token_env}=<token>" if token_env else
                f"no token for {source.id}: set token_env or token_file in shipwise.yaml")))
            if not has:
                continue
        try:
            connector = connector_for(source, services)
        except ShipwiseError as exc:
            add(_one(area, "connector can be built", f"{exc}" + (f" ({exc.hint})" if exc.hint else "")))
            continue
        cursors, keys = connector.name, set[str]()
        try:
            keys = {scope.key for scope in connector.scopes()}
            problems = connector.check()
        except ShipwiseError as exc:  # check() should describe, but never let one source stop us
            problems = [f"{exc}" + (f" ({exc.hint})" if exc.hint else "")]
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
        add(_one(area, "reachable, authorised, every repository found and mapped", None))
        if problems:
            report.checks.pop()
            prefix = f"source '{source.id}': "
            for problem in problems:
                add(_one(area, "connector check", problem.removeprefix(prefix)))
        for state in sync_state.list_states(store, cursors):
            if state.scope in keys and state.last_status not in (None, "ok"):
                what = {"transient": "failed for now (run `shipwise sync` again later; it resumes)",
                        "terminal": "cannot succeed until the cause is fixed",
                        "failed": "failed on an unexpected error (report it with --debug output)"}
                add(_one(area, f"last sync of {state.scope}",
                         f"the last sync of {state.scope} {what.get(state.last_status, 'failed')}: "
                         f"{state.last_error}"))
    return report
