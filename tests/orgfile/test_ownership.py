"""Ownership over time: a production deployment counts for the team that owned its service on
the day it finished; outside every ownership period, for ``service.team``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from shipwise.app.metrics import DoraRequest
from shipwise.app.owner import dora, import_paths
from shipwise.config import Settings
from shipwise.metrics import facts
from shipwise.metrics.ids import DEPLOYMENT_FREQUENCY
from shipwise.store.duckdb_store import Store
from tests.conftest import write_jsonl
from tests.orgfile.conftest import ORG, apply


def deployment(ident: str, service: str, finished: str) -> dict[str, Any]:
    return {"type": "deployment", "id": ident, "service": service, "environment": "production",
            "started_at": f"{finished}T09:00:00Z", "finished_at": f"{finished}T09:30:00Z",
            "status": "success", "version": ident}


def teams_of(settings: Settings) -> dict[str, str]:
    with Store.open(settings.db) as s:
        facts.ensure_fresh(s)
        return {str(k).split("@")[-1]: str(t) for k, t in s.con.execute(
            "SELECT nkey, team FROM dora_deploy_fact").fetchall()}


def test_a_deployment_counts_for_the_team_owning_its_service_then(
        settings: Settings, tmp_path: Path) -> None:
    apply(settings)
    import_paths(settings, [write_jsonl(tmp_path / "d.jsonl", [
        deployment("before", "ledger", "2026-03-31"),  # payments' last day
        deployment("after", "ledger", "2026-04-01"),   # platform's first day
        deployment("pay", "pay-api", "2026-04-01")])])
    assert teams_of(settings) == {"before": "payments", "after": "platform", "pay": "payments"}

    rows = dora(settings, DoraRequest(grain="quarter", since=date(2026, 1, 1),
                                      until=date(2026, 6, 30)))["rows"]
    freq = {(r["team"], r["period"]): r["metrics"][DEPLOYMENT_FREQUENCY] for r in rows}
    assert freq[("payments", "2026-Q1")] and freq[("platform", "2026-Q2")]
    assert not freq[("platform", "2026-Q1")]  # ledger was payments' then
    assert freq[("payments", "2026-Q2")] == freq[("platform", "2026-Q2")]  # pay-api; ledger


def test_gaps_between_owners_fall_back_to_the_service_team(
        settings: Settings, tmp_path: Path) -> None:
    text = ORG.replace("      - {team: payments, until: 2026-03-31}",
                       "      - {team: payments, since: 2026-01-01, until: 2026-02-28}")
    apply(settings, text)  # service.team = platform (the owner today)
    import_paths(settings, [write_jsonl(tmp_path / "d.jsonl", [
        deployment("early", "ledger", "2025-12-31"), deployment("owned", "ledger", "2026-02-28"),
        deployment("gap", "ledger", "2026-03-15"), deployment("late", "ledger", "2026-05-01")])])
    assert teams_of(settings) == {"early": "platform", "owned": "payments", "gap": "platform",
                                  "late": "platform"}


def test_a_transfer_applied_later_re_attributes_history(
        settings: Settings, tmp_path: Path) -> None:
    one_owner = ORG.replace("""    owners:
      - {team: payments, until: 2026-03-31}
      - {team: platform, since: 2026-04-01}
""", "    team: payments\n")
    apply(settings, one_owner)
    import_paths(settings, [write_jsonl(tmp_path / "d.jsonl", [
        deployment("before", "ledger", "2026-03-01"), deployment("after", "ledger", "2026-05-01")])])
    assert teams_of(settings) == {"before": "payments", "after": "payments"}
    res = apply(settings)
    assert [c.fields.get("owners") for c in res.changes if c.id == "ledger"] == [
        [None, "payments until 2026-03-31; platform since 2026-04-01"]]
    assert teams_of(settings) == {"before": "payments", "after": "platform"}
