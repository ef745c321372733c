"""The investigation shows its work: a timeline of typed steps kept in the record (``steps``).

Each step is one of

* ``plan`` — what the investigation set out to read and do (the window, the sources);
* ``fetch`` — data fetched from one source: where from (the query or files), how much (``size``),
  how long it took, or why it failed;
* ``observation`` — an entity found anomalous (or not) by triage, with the series it is seen in;
* ``finding`` — a hypothesis weighed: its score and its evidence for and against;
* ``root_cause`` — the conclusion (or that it stayed inconclusive) and its confidence.

Built from the record itself and the sources' statuses, so a record stored before steps existed
gets the same steps back from :func:`steps_of` (without sizes and queries, which it never kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipwise.investigate.evidence import SourceStatus
from shipwise.investigate.rank import clock, iso

STEP_TYPES = ("plan", "fetch", "observation", "finding", "root_cause")
#: how many observations and findings a record keeps as steps
MAX_OBSERVATIONS = 8
MAX_FINDINGS = 6


def _step(step_type: str, text: str, *, ref: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": step_type, "text": text, "ref": ref, **{k: v for k, v in extra.items()
                                                      if v not in (None, "", (), [], {})}}


def _size_text(size: dict[str, int]) -> str:
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in size.items()) or "nothing"


def work_steps(record: dict[str, Any], sources: Iterable[SourceStatus | dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """The typed steps of ``record`` (an investigation record without ``steps``), ``sources``
    being what every source did (:class:`SourceStatus` or the record's ``sources`` rows)."""
    rows = [_source_row(s) for s in sources]
    # a record of an older version, or one written by hand, may lack any part: say what it has
    alarm, window = record.get("alarm") or {}, record.get("window") or {}
    when = f" at {alarm['at']}" if alarm.get("at") else ""
    read = (f"read {iso(window['start'])} to {iso(window['end'])} from "
            if window.get("start") is not None and window.get("end") is not None else "read ")
    out = [_step("plan", f"Investigate the alarm {alarm.get('metric') or 'on'} "
                         f"{alarm.get('entity') or 'an unknown entity'}{when}: {read}"
                         + (", ".join(r["name"] for r in rows) or "no source"),
                 ref="#/window"),
           _step("plan", "Survey the topology around the alarm, triage which entities are "
                         "anomalous and since when, weigh every kind of hypothesis (change, "
                         "config or permission change, manual action, saturation, dependency "
                         "failure, traffic, infrastructure churn) and rank them", ref="#/hypotheses")]
    for r in rows:
        if r["ok"]:
            out.append(_step("fetch", f"{r['name']}: {_size_text(r['size'])} in "
                                      f"{r['seconds']:.2f} s", ref=r["detail"],
                             query=r["detail"], queries=r["queries"], size=r["size"],
                             seconds=r["seconds"], source=r["name"]))
        else:
            out.append(_step("fetch", f"{r['name']} failed: {r['error']}", ref=r["detail"],
                             query=r["detail"], source=r["name"], error=r["error"]))
    refs = {(s.get("entity"), s.get("metric")): s.get("ref", "")
            for s in record.get("anomalous_series") or []}
    anomalous = [t for t in record.get("triage") or [] if t.get("anomalous") and t.get("entity")]
    for t in anomalous[:MAX_OBSERVATIONS]:
        since = f" from {clock(float(t['onset']))}" if t.get("onset") is not None else ""
        out.append(_step("observation", f"{t['entity']} ({t.get('kind') or 'entity'}) anomalous"
                                        f"{since}: {t.get('top_metric') or 'metrics'}, score "
                                        f"{float(t.get('score') or 0):.1f}",
                         ref=refs.get((t["entity"], t.get("top_metric")), ""),
                         entity=t["entity"]))
    if not anomalous:
        out.append(_step("observation", "no entity was anomalous in the window", ref="#/triage"))
    for h in [h for h in record.get("hypotheses") or [] if h.get("score", 0) > 0][:MAX_FINDINGS]:
        support = h.get("for") or []
        against = h.get("against") or []
        out.append(_step("finding", f"{h.get('statement') or h.get('entity')} — score "
                                    f"{float(h['score']):.1f} "
                                    f"({len(support)} for, {len(against)} against)",
                         ref=next((o["ref"] for o in support if o.get("ref")), ""),
                         entity=h.get("entity"), kind=h.get("kind")))
    root = record.get("root_cause")
    if record.get("status") == "root_cause_found" and root:
        out.append(_step("root_cause", f"{root.get('statement') or root.get('entity')} (confidence "
                                       f"{float(root.get('confidence') or 0):.0%}, "
                                       f"{root.get('confidence_label', '')})",
                         ref=(root.get("event") or {}).get("ref") or "#/root_cause",
                         entity=root.get("entity")))
    else:
        lead = f"; the strongest lead is {root.get('entity')}" if root else ""
        out.append(_step("root_cause", f"inconclusive: no candidate is both connected to "
                                       f"{alarm.get('entity') or 'the alarm'} and shows an effect of its own{lead} "
                                       f"({len(record.get('gaps') or [])} gaps listed)",
                         ref="#/gaps"))
    return out


def _source_row(s: SourceStatus | dict[str, Any]) -> dict[str, Any]:
    if isinstance(s, SourceStatus):
        return {"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 3), "detail": s.detail,
                "error": s.error, "size": dict(s.size), "queries": list(s.queries)}
    return {"name": s.get("name", ""), "ok": bool(s.get("ok")), "seconds": float(s.get("seconds") or 0),
            "detail": s.get("detail", ""), "error": s.get("error", ""),
            "size": dict(s.get("size") or {}), "queries": list(s.get("queries") or [])}


def steps_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's steps, or (a record stored before steps existed) the steps rebuilt from it."""
    steps = record.get("steps")
    if steps:
        return list(steps)
    return work_steps(record, record.get("sources") or [])
