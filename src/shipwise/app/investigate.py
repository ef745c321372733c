"""Investigations (stored in the store the process holds), root-cause ranking of a case, and
evaluation on labelled data (no LLM anywhere)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipwise.app.context import open_store
from shipwise.config import Settings
from shipwise.demo.world.scenarios import generate_scenarios
from shipwise.errors import ConfigError, InputError
from shipwise.investigate.alarms import parse_alarm_payload
from shipwise.investigate.case import Alarm, load_alarm, load_case, load_truth, parse_time
from shipwise.investigate.engine import alarm_scope, analyse, investigate
from shipwise.investigate.evaluate import evaluate, format_reliability, format_table
from shipwise.investigate.evidence import Evidence, Scope
from shipwise.investigate.kept_topology import learnt
from shipwise.investigate.layouts import LAYOUTS, LEVELS, READERS, find_cases
from shipwise.investigate.petshop import iter_cases
from shipwise.investigate.rank import METHODS, rank
from shipwise.investigate.rescope import Narrowing
from shipwise.investigate.settings import InvestigateSettings
from shipwise.investigate.sources import (
    EvidenceSource,
    StoreSlice,
    case_sources,
    gather,
    sources_from_settings,
)
from shipwise.investigate.sources.base import EvidenceSource as _Source
from shipwise.investigate.sources.kept import read_kept
from shipwise.investigate.sources.telemetry import read_telemetry
from shipwise.notify import plan as outbox
from shipwise.notify.settings import NotifySettings
from shipwise.store import investigation_links, investigations
from shipwise.store import topology as kept
from shipwise.store.duckdb_store import Store, StoreSession, lend
from shipwise.store.org import service_exists

INVESTIGATE_METHOD = "investigate"


@dataclass(frozen=True)
class _Entity:
    entity: str
    confidence: float | None = None


def rank_case(path: str | Path, method: str = "baro+topology", top: int | None = None) -> dict[str, Any]:
    """``{"case", "method", "alarm", "seconds", "ranking": [{"entity", "score", "evidence"}]}``."""
    case = load_case(path)
    t0 = time.perf_counter()
    ranking = rank(case, method)
    seconds = time.perf_counter() - t0
    return {
        "case": case.name, "method": method, "seconds": round(seconds, 4),
        "alarm": {"entity": case.alarm.entity, "metric": case.alarm.metric, "time": case.alarm.time},
        "ranking": [{"entity": r.entity, "score": r.score, "evidence": list(r.evidence)}
                    for r in (ranking[:top] if top else ranking)],
    }


Progress = Callable[[int, int, str], None]


def evaluate_petshop(root: str | Path, methods: tuple[str, ...] | None = None,
                     scenario: str | None = None,
                     progress: Progress | None = None) -> dict[str, Any]:
    """AC@1, AC@3, Avg@5 per traffic scenario and overall, for each method.
    ``progress(done, total, name)`` is called before each case is scored and once at the end."""
    cases = list(iter_cases(Path(root), scenario=scenario))
    return evaluate(_announced(cases, progress), _rank_or_investigate,
                    methods or (*METHODS, INVESTIGATE_METHOD))


def _announced(cases: list[Any], progress: Progress | None) -> Iterator[Any]:
    """``cases`` one by one, telling ``progress`` which one is next (and when all are done)."""
    for i, c in enumerate(cases):
        if progress is not None:
            progress(i, len(cases), c[0].name)
        yield c
    if progress is not None:
        progress(len(cases), len(cases), "")


def _rank_or_investigate(case: Any, method: str) -> list[Any]:
    """A ranking method, or the full investigation over what the case holds in memory."""
    if method != INVESTIGATE_METHOD:
        return rank(case, method)
    times = [float(s.timestamps[-1]) for s in case.metrics.values() if s.timestamps.size]
    end = max([case.alarm.time, *times])
    first = min([case.alarm.time, *(float(s.timestamps[0]) for s in case.metrics.values()
                                     if s.timestamps.size)])
    rec = analyse(case.alarm, Evidence(topology=case.topology, metrics=case.metrics),
                  Scope(case.alarm, first, end))
    return _ranked_record(rec)


def _ranked_record(rec: dict[str, Any]) -> list[Any]:
    """An investigation's ranking, its top entry carrying the root cause's confidence."""
    names = investigation_ranking(rec)
    root = rec.get("root_cause") or {}
    conf = root.get("confidence")
    return [_Entity(e, float(conf) if i == 0 and conf is not None and e == root.get("entity")
                    else None) for i, e in enumerate(names)]


def evaluate_dir(path: str | Path, methods: tuple[str, ...] | None = None, layout: str = "auto",
                 level: str = "service", topology: str | Path | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Score the methods on every labelled case under ``path`` (any layout of
    :mod:`shipwise.investigate.layouts`): AC@k overall, per fault and per system, time per case,
    the reliability of the investigation's confidence, and every case. ``progress(done, total,
    name)`` is called before each case is read and once at the end. A case folder that cannot be
    read (e.g. no label for it) is left out and listed in ``skipped`` with the reason."""
    folders = find_cases(path, layout)
    if not folders:
        raise InputError(f"{path}: no labelled cases found",
                         hint="layouts: " + ", ".join(LAYOUTS) + " (see docs/investigation.md)")
    topo = Path(topology) if topology else None
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r}", hint="service or pod")

    skipped: list[dict[str, str]] = []

    def cases() -> Iterator[tuple[Any, dict[str, Any]]]:
        for i, (folder, kind) in enumerate(folders):
            if progress is not None:
                progress(i, len(folders), folder.name)
            try:
                labelled = READERS[kind](folder, level=level, topology=topo)
            except (InputError, OSError, ValueError, KeyError) as exc:
                skipped.append({"folder": str(folder), "layout": kind, "reason": str(exc)})
                continue
            yield labelled
        if progress is not None:
            progress(len(folders), len(folders), "")

    res = evaluate(cases(), _rank_or_investigate, methods or (*METHODS, INVESTIGATE_METHOD),
                   group_fn=lambda c: str(c.alarm.source.get("dataset") or "all"))
    res["root"] = str(path)
    res["layouts"] = sorted({k for _, k in folders})
    res["level"] = level
    res["skipped"] = skipped
    return res


# -- full investigations ------------------------------------------------------------------------

def investigate_case(path: str | Path, settings: Settings | None = None) -> dict[str, Any]:
    """Investigate the alarm of a case directory from its own files (truth.yaml is never read);
    :func:`shipwise.app.incidents.store_investigation` stores the record."""
    alarm = load_alarm(path)
    opts = (settings.investigate if settings else None)
    sources = _Tapped.around(case_sources(path))
    record = investigate(alarm, sources,
                         lookback_seconds=(opts.lookback_minutes if opts else 120) * 60,
                         after_seconds=(opts.after_minutes if opts else 2) * 60)
    record["case"] = str(path)
    record["topology_learnt"] = _Tapped.learnt(sources)
    return record


def investigate_alarm(settings: Settings, alarm: Alarm, alarm_id: str | None = None, *,
                      session: StoreSession | None = None) -> dict[str, Any]:
    """Investigate an alarm against the sources configured in ``shipwise.yaml`` and the store,
    and store the record. ``session`` lends the store the process holds (the server's shared
    one, or ``lend(store)``); without it the store is opened once for the whole investigation."""
    if session is None:
        with open_store(settings) as store:
            return investigate_alarm(settings, alarm, alarm_id, session=lend(store))
    with session() as store:
        in_store = _in_store(store, alarm.entity)
    record = _investigate(settings.investigate, alarm, alarm_id,
                          sources_from_settings(settings.investigate, session), in_store=in_store)
    with session() as store:
        save_investigation(store, record, settings.notify)
    return record


def store_slice(settings: Settings, alarm: Alarm, session: StoreSession) -> StoreSlice | None:
    """What an investigation of ``alarm`` reads from the store (None when the store source is
    off), read by the process holding the store for a worker process
    (:func:`investigate_slice`)."""
    opts = settings.investigate
    if not opts.sources.store.enabled:
        return None
    scope = alarm_scope(alarm, opts.lookback_minutes * 60, opts.after_minutes * 60)
    data = StoreSlice.read(session, opts.sources.store, scope)
    try:
        with session() as store:
            topology = (read_kept(store, alarm.entity,
                                  alarm.time - opts.sources.store.topology_days * 86400)
                        if opts.sources.store.topology else None)
            telemetry = (read_telemetry(store, opts.sources.store, scope)
                         if opts.sources.store.telemetry else None)
            return replace(data, in_store=_in_store(store, alarm.entity), topology=topology,
                           telemetry=telemetry)
    except Exception:  # the store's failure is the slice's own (recorded as the source's)
        return data


def investigate_slice(opts: InvestigateSettings, alarm: Alarm, alarm_id: str | None,
                      data: StoreSlice | None) -> dict[str, Any]:
    """:func:`investigate_alarm` without a store: the store's part of the evidence comes from
    ``data`` (:func:`store_slice`), and the record is returned, not stored (the process holding
    the store writes it)."""
    return _investigate(opts, alarm, alarm_id, sources_from_settings(opts, store_slice=data),
                        in_store=data.in_store if data is not None else None)


def _investigate(opts: InvestigateSettings, alarm: Alarm, alarm_id: str | None,
                 sources: list[EvidenceSource], *, in_store: bool | None = None) -> dict[str, Any]:
    if not sources:
        raise ConfigError("no evidence sources configured",
                          hint="add an investigate.sources section to shipwise.yaml (see docs/investigation.md)")
    tapped = _Tapped.around(sources)
    record = investigate(alarm, tapped, lookback_seconds=opts.lookback_minutes * 60,
                         after_seconds=opts.after_minutes * 60, validate=_validate_query(opts, alarm),
                         in_store=in_store)
    record["alarm_id"] = alarm_id
    record["topology_learnt"] = _Tapped.learnt(tapped)
    return record


class _Tapped(_Source):
    """A source that keeps what it returned, so the topology the investigation's evidence holds
    can be learnt (:func:`learn_topology`) without the engine handing the evidence back."""

    def __init__(self, inner: EvidenceSource) -> None:
        self.inner = inner
        self.name = inner.name
        self.got: Evidence | None = None

    @classmethod
    def around(cls, sources: list[EvidenceSource]) -> list[EvidenceSource]:
        return [cls(s) for s in sources]

    @staticmethod
    def learnt(sources: list[EvidenceSource]) -> dict[str, list[list[str | None]]]:
        return learnt((s.name, s.got) for s in sources
                      if isinstance(s, _Tapped) and s.got is not None)

    def check(self) -> list[str]:
        return self.inner.check()

    def describe(self) -> str:
        return self.inner.describe()

    def fetch(self, scope: Scope) -> Evidence:
        self.got = self.inner.fetch(scope)
        return self.got


def reinvestigate(settings: Settings, record: dict[str, Any], narrowing: Narrowing,
                  question: str, *, session: StoreSession) -> dict[str, Any] | None:
    """Re-run the investigation ``record`` with ``narrowing`` (a shorter window, or only some
    entities and the path from the alarm to them), store the new record and link it to
    ``record`` (``investigation_link``). The evidence comes from the case directory the record
    was made from, when it still exists, else from the sources configured in shipwise.yaml.
    None: the narrowing kept nothing of the evidence (e.g. no entity is in that region)."""
    a = record["alarm"]
    alarm = Alarm(str(a["entity"]), str(a.get("metric") or ""), float(a["time"]),
                  dict(a.get("source") or {}))
    opts = settings.investigate
    case = record.get("case")
    if case and Path(str(case)).is_dir():
        sources = case_sources(case)
        in_store = None
    else:
        sources = sources_from_settings(opts, session)
        with session() as store:
            in_store = _in_store(store, alarm.entity)
    if not sources:
        raise ConfigError("no evidence sources configured to re-run the investigation with",
                          hint="add an investigate.sources section to shipwise.yaml (see docs/investigation.md)")
    scope = narrowing.scope(alarm_scope(alarm, opts.lookback_minutes * 60, opts.after_minutes * 60))
    t0 = time.perf_counter()
    evidence = gather(sources, scope)
    narrowed, kept = narrowing.apply(evidence, alarm.entity)
    if narrowing.kind in ("entities", "region") and not kept:
        return None
    child = analyse(alarm, narrowed, scope, validate=_validate_query(opts, alarm),
                    started=t0, in_store=in_store, inv_id=narrowing.child_id(str(record["id"])))
    child["alarm_id"] = record.get("alarm_id")
    if case:
        child["case"] = case
    child["parent"] = {"id": record["id"], "question": question, "narrowing": narrowing.as_dict(),
                       "entities": kept}
    with session() as store, store.transaction():
        save_investigation(store, child)
        investigation_links.link(store, str(record["id"]), str(child["id"]), question,
                                 narrowing.as_dict())
    return child


def investigate_service(settings: Settings, service: str, at: str | float, metric: str = "", *,
                        session: StoreSession | None = None) -> dict[str, Any]:
    """A person asks: what happened to ``service`` around ``at`` (an instant, or ``now``)?"""
    t = time.time() if str(at).lower() == "now" else parse_time(at)
    alarm = Alarm(service, metric, t, {"kind": "manual"})
    return investigate_alarm(settings, alarm, session=session)


def _in_store(store: Store, entity: str) -> bool | None:
    """Is ``entity`` a service of the store (None: the store holds no services at all, so it
    cannot tell)?"""
    if service_exists(store, entity):
        return True
    row = store.con.execute("SELECT count(*) FROM service").fetchone()
    return False if row and row[0] else None


def _validate_query(opts: InvestigateSettings, alarm: Alarm) -> str:
    prom = opts.sources.prometheus
    if prom is None or not alarm.metric:
        return ""
    return (f'{prom.metric_prefix}{alarm.metric}{{{prom.entity_label}="{alarm.entity}"}} '
            f"(PromQL at {prom.url})")


def save_investigation(store: Store, record: dict[str, Any],
                       notify: NotifySettings | None = None) -> None:
    """Insert or replace the record in ``store`` (the same alarm investigated again replaces
    its record), with the notifications of ``notify``'s channels in the outbox, in the same
    transaction: both or neither (docs/notifications.md)."""
    root = record.get("root_cause") or {}
    row = investigations.Investigation(
        id=record["id"], created_at=datetime.now(UTC), alarm_id=record.get("alarm_id"),
        entity=record["alarm"]["entity"], metric=record["alarm"]["metric"],
        alarm_at=datetime.fromtimestamp(record["alarm"]["time"], tz=UTC),
        status=record["status"], root_cause_entity=root.get("entity"),
        root_cause_kind=root.get("fault"), confidence=root.get("confidence"),
        summary=root.get("statement"), seconds=record["seconds"]["total"],
        record=json.dumps(record, default=str))
    with store.transaction():
        investigations.save(store, row)
        learn_topology(store, record)
        if notify is not None and notify.channels:
            outbox.write_investigation(store, notify, record, link=notify.link(str(record["id"])))


def learn_topology(store: Store, record: dict[str, Any]) -> int:
    """Keep the topology an investigation's evidence held (``record["topology_learnt"]``: the
    edges its topology files, Prometheus labels and traces gave), observed by the investigation
    at its alarm's time: storing the same record again counts nothing twice. Returns how many
    edge observations were new."""
    got = record.get("topology_learnt") or {}
    if not got.get("edges") and not got.get("nodes"):
        return 0
    at = datetime.fromtimestamp(float(record["alarm"]["time"]), tz=UTC).replace(tzinfo=None)
    obs = f"investigation:{record['id']}"
    return kept.record(store, [(a, b, rel, origin, obs, at) for a, b, rel, origin in got["edges"]],
                       [(n, kind, team, at) for n, kind, team in got.get("nodes", [])])


def alarm_entity(*, alarm_file: str | Path | None = None,
                 case_dir: str | Path | None = None) -> str:
    """The entity an alarm file (its first firing alarm) or a case directory is about."""
    if case_dir is not None:
        return str(load_alarm(case_dir).entity)
    alarms = parse_alarm_payload(Path(str(alarm_file)).read_bytes())
    if not alarms:
        raise InputError(f"{alarm_file}: no firing alarm in it (only resolved notices)")
    return str(alarms[0].entity)


def investigate_alarm_file(settings: Settings, path: str | Path, *,
                           session: StoreSession | None = None) -> dict[str, Any]:
    """Investigate the (first firing) alarm in a payload file of any supported shape."""
    alarms = parse_alarm_payload(Path(path).read_bytes())
    if not alarms:
        raise InputError(f"{path}: no firing alarm in it (only resolved notices)")
    return investigate_alarm(settings, alarms[0], session=session)


def investigation_ranking(record: dict[str, Any]) -> list[str]:
    """Entities of a record, most likely root cause first: the root cause, then the other
    hypotheses' entities, then the triage order. An inconclusive record's "root cause" is only
    a lead (the most anomalous entity it could tie to the alarm), so there the hypotheses that
    scored — withheld for want of evidence connecting them, not for being weak — come first."""
    root = record.get("root_cause") or {}
    hyps = [h["entity"] for h in record["hypotheses"]]
    if record.get("status") == "inconclusive":
        scored = [h["entity"] for h in record["hypotheses"] if h["score"] > 0]
        names = [*scored, root.get("entity"), *hyps]
    else:
        names = [root.get("entity"), *hyps]
    names += [t["entity"] for t in record["triage"]]
    return list(dict.fromkeys(n for n in names if n))


#: Scenario cases by default: 5 of each of the demo world's 9 fault kinds.
SCENARIO_CASES = 45


def evaluate_scenarios(n: int = SCENARIO_CASES, seed: int = 11,
                       out_dir: str | Path | None = None,
                       methods: tuple[str, ...] | None = None,
                       progress: Progress | None = None) -> dict[str, Any]:
    """Generate ``n`` demo-world cases and score every method on them (AC@k per fault kind),
    plus how often the full investigation names the right kind of fault. ``progress(done,
    total, name)`` is called while the cases are generated (done 0), before each is scored and
    once at the end."""
    chosen = methods or (*METHODS, INVESTIGATE_METHOD)
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="shipwise-scenarios-")
        out_dir = tmp.name
    try:
        t0 = time.perf_counter()
        if progress is not None:
            progress(0, n, "generating the cases")
        paths = generate_scenarios(n, seed, Path(out_dir))
        gen_seconds = time.perf_counter() - t0
        truths = {p.name: load_truth(p) for p in paths}
        kinds: dict[str, tuple[str, str]] = {}

        def rank_fn(case: Any, method: str) -> list[Any]:
            if method != INVESTIGATE_METHOD:
                return rank(case, method)
            rec = investigate_case(case.path)
            root = rec.get("root_cause") or {}
            kinds[case.name] = (str(root.get("fault")), str(truths[case.name].get("fault")))
            return _ranked_record(rec)

        cases = [(load_case(p), {"root_cause": str(truths[p.name]["root_cause"]),
                                 "fault": str(truths[p.name].get("fault") or "unknown"),
                                 "system": "demo-world"}) for p in paths]
        res = evaluate(_announced(cases, progress), rank_fn, chosen,
                       group_fn=lambda c: str(truths[c.name].get("fault", "all")))
    finally:
        if tmp is not None:
            tmp.cleanup()
    if kinds:
        res["fault_kind_accuracy"] = sum(a == b for a, b in kinds.values()) / len(kinds)
        for c in res["cases"]:
            if c["name"] in kinds:
                c["fault"] = {"found": kinds[c["name"]][0], "truth": kinds[c["name"]][1]}
    res["generate_seconds"] = round(gen_seconds, 2)
    return res


def evaluation_table(result: dict[str, Any]) -> str:
    """An evaluation (:func:`evaluate_petshop`, :func:`evaluate_scenarios`) as a text table."""
    return format_table(result)


def evaluation_report(result: dict[str, Any]) -> str:
    """An evaluation of :func:`evaluate_dir` as text: per fault, per system (each with the overall
    rows) and the reliability table."""
    parts = [format_table(result, key="by_fault", label="fault"),
             format_table(result, key="by_system", label="system"),
             "Reliability of the stated confidence (top-1 right per confidence bin):",
             format_reliability(result)]
    if result.get("skipped"):
        parts.append("\n".join(f"skipped {s['folder']}: {s['reason']}" for s in result["skipped"]))
    return "\n\n".join(parts)
