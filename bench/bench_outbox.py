"""The outbox with a receiver down: 100 investigations saved while every receiver is down for a
minute; afterwards every notification must be delivered exactly once.

    python bench/bench_outbox.py [--investigations 100] [--down-seconds 60] [--spacing 0.75]

Steps:

1. A fresh store (``init_store``) with one service (``pay-api``) and its incident as the Jira,
   ServiceNow and PagerDuty connectors store it; seven channels (Slack incoming webhook, Slack
   ``chat.postMessage``, Teams, Jira Cloud, ServiceNow, PagerDuty, GitHub) pointing at the local
   receivers of ``tests/fakes/notify.py`` (a real HTTP server on 127.0.0.1 that checks each
   vendor's payload shape and keeps every post that took effect).
2. The server's background deliverer (``DeliveryLoop`` over ``deliver_pending``, as ``shipwise
   serve`` runs it; pass every 1 s, backoff 1 s doubling to 8 s, 100 attempts) runs on the same
   store connection (through a lock, as the server's shared store) while the main thread saves
   ``--investigations`` records with ``save_investigation`` (investigation and outbox rows in one
   transaction), one every ``--spacing`` seconds. The receivers go down (port closed: connection
   refused) after the 10th investigation and come back ``--down-seconds`` later.
3. Wait until no row is pending; count, per row, the posts carrying its marker at the receivers:
   exactly once is 1 for every row. Reported: rows, delivered, missing (0 posts), duplicated (> 1),
   failed attempts while down, the time from the receivers' return to the last delivery.
4. The ambiguous window, measured apart: on a fresh store, the posts of 3 rows to receivers that
   can be read back (Jira, PagerDuty, GitHub) and of 2 webhook rows (Slack, Teams) take effect
   but their answers are cut. The deliverer finds the first three at the receiver and does not
   post them again; the webhooks, which cannot be read back, are posted twice (the documented
   at-least-once window).

Results are printed and written to ``bench/results/outbox.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import org, write_jsonl  # noqa: E402
from tests.fakes import notify as fake  # noqa: E402
from tests.notify.test_outbox import ALARM_AT, channels, env, record  # noqa: E402

from shipwise.app.context import init_store, open_store  # noqa: E402
from shipwise.app.investigate import save_investigation  # noqa: E402
from shipwise.app.notify import deliver_pending  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, environ_as  # noqa: E402
from shipwise.notify import plan  # noqa: E402
from shipwise.notify.deliver import DeliveryLoop  # noqa: E402
from shipwise.notify.settings import NotifySettings  # noqa: E402
from shipwise.store import outbox as table  # noqa: E402
from shipwise.store.duckdb_store import lend  # noqa: E402


def store_with_incidents(folder: Path, url: str) -> Settings:
    settings = Settings(db=folder / "shipwise.duckdb")
    init_store(settings)
    opened = ALARM_AT.isoformat() + "Z"
    base = {"type": "incident", "service": "pay-api", "severity": "sev2", "opened_at": opened,
            "human_actioned": True}
    import_paths(settings, [write_jsonl(folder / "org.jsonl", [
        *org((("payments", "pay-api"),)),
        {**base, "id": "OPS-12", "source": "jira:jira incident OPS-12"},
        {**base, "id": "servicenow:INC0010001",
         "source": "servicenow:servicenow incident INC0010001"},
        {**base, "id": "pagerduty:PABC123"}])])
    notify = channels(url)
    notify["deliver"] = {"backoff_seconds": 1, "max_backoff_seconds": 8, "max_attempts": 100,
                         "interval_seconds": 1}
    return settings.model_copy(update={"notify": NotifySettings.model_validate(notify)})


def receivers() -> fake.Receivers:
    return fake.Receivers(jira_issues=("OPS-12",), servicenow=("INC0010001",),
                          pagerduty=("PABC123",), repos=("acme/reliability",))


def down_for_a_while(n: int, down_after: int, down_seconds: float, spacing: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, receivers() as rx:
        settings = store_with_incidents(Path(tmp), rx.url)
        os.environ.update(env(rx.url))  # the loop's thread reads the process's environment
        with open_store(settings) as store:
            session = lend(store)
            loop = DeliveryLoop(lambda: deliver_pending(settings, session),
                                settings.notify.deliver.interval_seconds)
            loop.start()
            t0 = time.monotonic()
            went_down = came_up = None
            save_seconds: list[float] = []
            for i in range(n):
                if i == down_after:
                    rx.down()
                    went_down = time.monotonic()
                if went_down is not None and came_up is None \
                        and time.monotonic() - went_down >= down_seconds:
                    rx.up()
                    came_up = time.monotonic()
                rec = record(f"inv-{i:03d}", alarm_id=f"alm-{i:03d}",
                             statement=f"deploy v{i} broke the cache")
                s0 = time.perf_counter()
                with session() as st:
                    save_investigation(st, rec, settings.notify)
                save_seconds.append(time.perf_counter() - s0)
                time.sleep(spacing)
            if came_up is None:
                assert went_down is not None
                time.sleep(max(0.0, down_seconds - (time.monotonic() - went_down)))
                rx.up()
                came_up = time.monotonic()
            last_delivery = came_up
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with session() as st:
                    counts = {c["status"]: int(c["n"]) for c in _by_status(st)}
                if not counts.get("pending"):
                    last_delivery = time.monotonic()
                    break
                time.sleep(0.2)
            loop.stop()
            with session() as st:
                rows = table.rows_of(st)
        effects = [rx.effects(plan.marker(r["id"])) for r in rows]
        failed_attempts = sum(int(r["attempts"]) - 1 for r in rows)
        result = {
            "investigations": n, "channels": len(settings.notify.channels), "rows": len(rows),
            "delivered": sum(1 for r in rows if r["status"] == "delivered"),
            "pending": sum(1 for r in rows if r["status"] == "pending"),
            "failed": sum(1 for r in rows if r["status"] == "failed"),
            "exactly_once": sum(1 for e in effects if e == 1),
            "missing": sum(1 for e in effects if e == 0),
            "duplicated": sum(1 for e in effects if e > 1),
            "posts_at_receivers": len(rx.posts),
            "shape_problems": rx.problems,
            "receiver_down_after_investigation": down_after,
            "receiver_down_seconds": round(came_up - went_down, 1) if went_down else 0,
            "rows_needing_retries": sum(1 for r in rows if int(r["attempts"]) > 1),
            "failed_attempts_while_down": failed_attempts,
            "max_attempts_of_a_row": max(int(r["attempts"]) for r in rows),
            "seconds_from_return_to_last_delivery": round(last_delivery - came_up, 2),
            "save_investigation_ms_median": round(1000 * sorted(save_seconds)[n // 2], 2),
            "wall_seconds": round(time.monotonic() - t0, 1),
        }
        return result


def _by_status(st: Any) -> list[dict[str, Any]]:
    return [c for c in table.counts(st)]


def ambiguous() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, receivers() as rx:
        settings = store_with_incidents(Path(tmp), rx.url)
        for pattern in (r"^/jira/", r"^/pd/", r"^/gh/", r"^/slack/hooks/", r"^/teams/"):
            rx.cut(pattern)
        with open_store(settings) as store, environ_as(env(rx.url)):
            session = lend(store)
            with session() as st:
                save_investigation(st, record("inv-cut"), settings.notify)
            first = deliver_pending(settings, session)
            time.sleep(2.5)  # past the first backoff
            second = deliver_pending(settings, session)
            with session() as st:
                rows = table.rows_of(st)
        per_kind = {r["kind"]: rx.effects(plan.marker(r["id"])) for r in rows}
        return {"rows": len(rows), "cut": 5, "first_pass": {"delivered": first.delivered,
                                                            "retrying": first.retrying},
                "second_pass": {"delivered": second.delivered,
                                "found_at_receiver_not_posted_again": second.reconciled},
                "posts_per_row_by_kind": per_kind,
                "delivered": sum(1 for r in rows if r["status"] == "delivered")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--investigations", type=int, default=100)
    ap.add_argument("--down-after", type=int, default=10)
    ap.add_argument("--down-seconds", type=float, default=60.0)
    ap.add_argument("--spacing", type=float, default=0.75)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "outbox.json")
    args = ap.parse_args()
    down = down_for_a_while(args.investigations, args.down_after, args.down_seconds, args.spacing)
    print(json.dumps(down, indent=2))
    amb = ambiguous()
    print(json.dumps(amb, indent=2))
    out = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "platform": platform.platform()},
           "command": "python bench/bench_outbox.py " + " ".join(sys.argv[1:]),
           "receiver_down": down, "ambiguous_answers": amb}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
