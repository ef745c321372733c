"""Follow-up questions on an investigation, answered from its stored record (docs/ask.md).

Deterministic and without any LLM: the question is matched to an *intent* by keyword patterns
(each pattern weighs; the best-scoring intent answers, ties going to the one listed first), and
the intent reads the record — timeline, start, alarms, impact, ruled out, changes, root cause,
confidence, mitigation… Every answer is a sentence plus the facts it rests on, each with its
evidence reference (a file and line, an event id, a PromQL link, or a pointer ``#/path`` into
the record). A question no intent matches gets an honest "I can't answer that from the record"
and the questions that can be answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipwise.investigate.rank import clock
from shipwise.investigate.rescope import kind_entities, mentioned_entities
from shipwise.investigate.steps import steps_of

Facts = list[dict[str, str]]
Handler = Callable[[dict[str, Any], str], tuple[str, Facts]]

SUGGESTIONS = (
    "What is the root cause?", "When did it start?", "Which alarms fired?",
    "How many customers were affected?", "What was ruled out and why?",
    "What changed before it?", "How do I mitigate it?", "Show the timeline",
    "How confident are you?", "What could the investigation not see?",
    "Focus on the most recent wave", "What about the database?",
)
CANNOT = "I can't answer that from the record."


def fact(text: str, ref: str = "", source: str = "record") -> dict[str, str]:
    return {"text": text, "ref": ref, "source": source}


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{x * 100:.1f}%"


# -- intents ---------------------------------------------------------------------------------------

def _root_cause(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    root = r.get("root_cause")
    if not root:
        return ("No root cause was found: " + _inconclusive(r),
                [fact(g["what"], "#/gaps", "gap") for g in r.get("gaps") or []][:5])
    head = ("Root cause" if r.get("status") == "root_cause_found"
            else "No root cause was named; the strongest lead") + f": {root['statement']}"
    facts = [fact(f"{root['entity']} · {root.get('fault') or root.get('kind')} · confidence "
                  f"{float(root.get('confidence') or 0):.0%} ({root.get('confidence_label', '')})",
                  "#/root_cause")]
    facts += [fact(o["text"], o.get("ref", ""), o.get("source", "")) for o in
              r.get("key_observations") or []]
    return head + ".", facts


def _inconclusive(r: dict[str, Any]) -> str:
    return (f"no candidate is both connected to {r['alarm']['entity']} and shows an effect of its "
            f"own ({len(r.get('gaps') or [])} gaps listed).")


def _confidence(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    root = r.get("root_cause")
    if not root:
        return "There is no root cause to be confident in: " + _inconclusive(r), []
    rivals = [h for h in r.get("hypotheses") or [] if h["statement"] != root["statement"]]
    facts = [fact(f"confidence {float(root.get('confidence') or 0):.0%} "
                  f"({root.get('confidence_label')}), calibrated from raw "
                  f"{float(root.get('confidence_raw') or 0):.2f}; score {root.get('score')}",
                  "#/root_cause/confidence")]
    if rivals:
        best = rivals[0]
        facts.append(fact(f"next best candidate: {best['statement']} (score {best['score']})",
                          "#/hypotheses"))
    facts += [fact(o["text"], o.get("ref", ""), o.get("source", ""))
              for o in (r.get("key_observations") or [])[:4]]
    return (f"Confidence in {root['entity']} is {float(root.get('confidence') or 0):.0%} "
            f"({root.get('confidence_label')}).", facts)


def _start(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    w = r.get("window") or {}
    onset_at = w.get("onset_at") or r["alarm"]["at"]
    series = sorted((s for s in r.get("anomalous_series") or [] if s.get("onset") is not None),
                    key=lambda s: s["onset"])
    facts = [fact(f"change point of the anomaly at {onset_at}", "#/window/onset")]
    if series:
        s = series[0]
        facts.append(fact(f"first anomalous series: {s['entity']} {s['metric']} from "
                          f"{clock(float(s['onset']))} UTC", s.get("ref", ""), "metrics"))
    errors = [i for i in r.get("timeline") or [] if str(i["what"]).startswith("first error")]
    if errors:
        facts.append(fact(f"{errors[0]['what']} at {errors[0]['at']}",
                          errors[0].get("ref") or "#/timeline", "logs"))
    facts.append(fact(f"the alarm fired at {r['alarm']['at']}", "#/alarm"))
    alarm_lag = float(r["alarm"]["time"]) - float(w.get("onset") or r["alarm"]["time"])
    lag = f", {alarm_lag / 60:.0f} min before the alarm" if alarm_lag >= 60 else ""
    return f"It started at {onset_at}{lag}.", facts


def _timeline(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    items = r.get("timeline") or []
    if not items:
        return "The record holds no timeline.", []
    facts = [fact(f"{i['at'][11:19]} {i['what']}" + (f" ({i['entity']})" if i.get("entity") else ""),
                  i.get("ref") or f"#/timeline/{n}", "timeline") for n, i in enumerate(items)]
    return (f"{len(items)} entries from {items[0]['at']} to {items[-1]['at']} (UTC):", facts)


def _alarms(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    a = r["alarm"]
    src = a.get("source") or {}
    name = src.get("alertname") or (src.get("labels") or {}).get("alertname") or a.get("metric")
    facts = [fact(f"{name}: {a['metric'] or 'alarm'} on {a['entity']} at {a['at']}"
                  + (f" (threshold {src['threshold']}, value {float(src['value']):.3g})"
                     if src.get("threshold") is not None and src.get("value") is not None else ""),
                  str(src.get("generatorURL") or "#/alarm"), str(src.get("kind") or "alarm"))]
    labels = src.get("labels") or {}
    if labels.get("severity"):
        facts.append(fact(f"severity {labels['severity']}", "#/alarm/source/labels"))
    if r.get("alarm_id"):
        facts.append(fact(f"alarm intake id {r['alarm_id']}", "#/alarm_id"))
    storm = r.get("storm") or r.get("joined_alarms") or []
    for x in storm if isinstance(storm, list) else []:
        facts.append(fact(f"joined alarm: {x}", "#/storm"))
    return f"One alarm started this investigation: {name} on {a['entity']} at {a['at']}.", facts


def _impact(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    imp = r.get("impact") or {}
    if not imp.get("summary"):
        return "Impact could not be measured from the evidence.", []
    facts: Facts = []
    tr = imp.get("traces") or {}
    if tr.get("customers_affected") is not None:
        facts.append(fact(f"{tr['customers_affected']} distinct customers affected of "
                          f"{tr.get('customers_seen')} seen in sampled traces",
                          "#/impact/traces", "traces"))
    if tr.get("requests"):
        facts.append(fact(f"{tr['failed_requests']} of {tr['requests']} sampled requests failed "
                          f"({_pct(tr.get('failure_rate'))})", "#/impact/traces", "traces"))
    for s in imp.get("services") or []:
        facts.append(fact(f"{s['entity']}: error rate {_pct(s.get('error_rate_during'))} "
                          f"(peak {_pct(s.get('error_rate_peak'))}, normally "
                          f"{_pct(s.get('error_rate_before'))})", "#/impact/services", "metrics"))
    win = imp.get("window") or {}
    if win.get("minutes") is not None:
        facts.append(fact(f"over {win['minutes']} minutes", "#/impact/window"))
    if re.search(r"customer|user|client|people", q, re.I) and tr.get("customers_affected") is None:
        return ("No customer count: the traces held no customer ids. " + imp["summary"] + ".",
                facts)
    lead = (f"{tr['customers_affected']} distinct customers were affected. "
            if tr.get("customers_affected") is not None and re.search(r"customer|user|client", q, re.I)
            else "")
    return lead + imp["summary"] + ".", facts


def _ruled_out(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    items = r.get("ruled_out") or []
    named = [e for e in mentioned_entities(q, r)]
    if named:
        chosen = [i for i in items if i["entity"] in named]
        if chosen:
            return (f"{', '.join(named)}: ruled out.",
                    [fact(f"{i['observation']} — why not: {i['reason']}", i.get("ref", ""),
                          i.get("kind", "")) for i in chosen])
    if not items:
        return "Nothing else was suspicious in the window: nothing was ruled out.", []
    return (f"{len(items)} observations were ruled out:",
            [fact(f"{i['observation']} — why not: {i['reason']}", i.get("ref", ""),
                  i.get("kind", "")) for i in items])


_CHANGE_PREFIX = re.compile(r"^(deployment|config_change|permission_change|iam_change|"
                            r"feature_flag|scaling|instance_launch|instance_terminate|session|"
                            r"manual_action|[a-z_]+_change|[a-z_]+):\s")


def _changes(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    onset = float((r.get("window") or {}).get("onset") or r["alarm"]["time"])
    changes = [i for i in r.get("timeline") or [] if i.get("ref") and _CHANGE_PREFIX.match(i["what"])
               and not str(i["what"]).startswith(("first error", "alarm"))]
    before = [i for i in changes if float(i["time"]) <= onset]
    facts = [fact(f"{i['at'][11:19]} {i['what']}", i["ref"], "events") for i in before]
    root = r.get("root_cause") or {}
    ev = root.get("event")
    if ev:
        facts.append(fact(f"the root cause is the {ev['kind']} at {ev['at']}: {ev['summary']}",
                          ev.get("ref", ""), "events"))
    after = [i for i in changes if float(i["time"]) > onset]
    facts += [fact(f"(after the onset) {i['at'][11:19]} {i['what']}", i["ref"], "events")
              for i in after]
    if not changes:
        gap = [g for g in r.get("gaps") or [] if g["source"] == "changes"]
        return ("No change event in the hour before the onset."
                + (" No change source was connected." if gap else ""),
                [fact(g["what"], "#/gaps", "gap") for g in gap])
    return (f"{len(before)} change{'s' if len(before) != 1 else ''} in the hour before the onset "
            f"({clock(onset)} UTC).", facts)


def _mitigation(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    m = r.get("mitigation")
    if not m:
        return "No mitigation plan: no root cause to act on.", []
    parts: tuple[tuple[str, str], ...] = (("prepare", "prepare"), ("pre_validate", "validate before"), ("apply", "apply"),
             ("post_validate", "validate after"), ("rollback", "roll back"))
    if re.search(r"\bundo\b|\broll(?:ing)?[\s-]?back the (?:mitigation|fix)|revert the (?:mitigation|fix)",
                 q, re.I):
        parts = (("rollback", "roll back"),)
    elif re.search(r"\bverif|recovered|back to normal|\bvalidat|\bis it over\b|\bresolved\b",
                   q, re.I):
        parts = (("post_validate", "validate after"),)
    facts: Facts = []
    for key, label in parts:
        for n, step in enumerate(m.get(key) or []):
            facts.append(fact(f"{label}: {step['text']}"
                              + (f" — `{step['command']}`" if step.get("command") else ""),
                              f"#/mitigation/{key}/{n}", "mitigation"))
    apply = (m.get("apply") or [{}])[0]
    verifications = r.get("verifications") or []
    if len(parts) == 1 and parts[0][0] == "post_validate" and verifications:
        last = verifications[-1]
        facts.insert(0, fact(f"last verification at {last.get('recorded_at') or last.get('at')}: "
                                f"{last.get('status')}", "#/verifications", "verify"))
    head = {"rollback": "To roll the mitigation back:",
            "post_validate": "To check it recovered:"}.get(parts[0][0]) if len(parts) == 1 else (
        f"Mitigation: {apply.get('text', '')}" + (f" (`{apply['command']}`)" if apply.get("command")
                                                   else "") + ".")
    return str(head), facts


def _long_term(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    spec = r.get("long_term_fix")
    if not spec:
        return "No long-term fix was proposed: no root cause to act on.", []
    title = spec.splitlines()[0].lstrip("# ").strip()
    sections = [ln.lstrip("# ").strip() for ln in spec.splitlines() if ln.startswith("## ")]
    return (f"Long-term fix: {title}.",
            [fact(f"section: {s}", "#/long_term_fix", "fix spec") for s in sections])


def _gaps(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    gaps = r.get("gaps") or []
    facts = [fact(f"{g['source']}: {g['what']} — how to connect it: {g['how']}", "#/gaps", "gap")
             for g in gaps]
    failed = [s for s in r.get("sources") or [] if not s.get("ok")]
    facts += [fact(f"source {s['name']} failed: {s.get('error')}", "#/sources", s["name"])
              for s in failed if not any(g["source"] == s["name"] for g in gaps)]
    if not facts:
        return ("No gaps: every kind of evidence was connected ("
                + ", ".join(s["name"] for s in r.get("sources") or []) + ").",
                [fact(f"{s['name']}: {s.get('detail', '')}", "#/sources", s["name"])
                 for s in r.get("sources") or []])
    return f"{len(facts)} gap{'s' if len(facts) != 1 else ''} in what the investigation could see:", facts


def _affected(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    anomalous = [t for t in r.get("triage") or [] if t.get("anomalous")]
    refs = {(s["entity"], s["metric"]): s.get("ref", "") for s in r.get("anomalous_series") or []}
    if not anomalous:
        return "No entity was anomalous in the window.", []
    root = (r.get("root_cause") or {}).get("entity")
    return (f"{len(anomalous)} entities were anomalous: " + ", ".join(t["entity"] for t in anomalous)
            + ".",
            [fact(f"{t['entity']} ({t['kind']}): {t.get('top_metric')} score {t['score']}"
                  + (" — the root cause" if t["entity"] == root else "")
                  + (f", from {clock(float(t['onset']))} UTC" if t.get("onset") else ""),
                  refs.get((t["entity"], t.get("top_metric")), "#/triage"), "metrics")
             for t in anomalous])


def _evidence(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    obs = r.get("key_observations") or []
    if not obs:
        return "No observation supports a root cause.", []
    return (f"{len(obs)} observations support the root cause:",
            [fact(o["text"], o.get("ref", ""), o.get("source", "")) for o in obs])


def _errors(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    facts = [fact(o["text"], o.get("ref", ""), "logs") for o in r.get("key_observations") or []
             if o.get("source") == "logs"]
    for h in r.get("hypotheses") or []:
        for o in h.get("for") or []:
            if o.get("source") == "logs" and all(o["text"] != f["text"] for f in facts):
                facts.append(fact(o["text"], o.get("ref", ""), "logs"))
    firsts = [i for i in r.get("timeline") or [] if str(i["what"]).startswith("first error")]
    facts += [fact(f"{i['what']} at {i['at']}", i.get("ref") or "#/timeline", "logs")
              for i in firsts]
    if not facts:
        return "The record holds no errors from logs.", []
    return "Errors seen in the logs:", facts


def _code(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    ev = (r.get("root_cause") or {}).get("event")
    if not ev:
        return "The root cause is not tied to a change, so there is no diff.", []
    d = ev.get("details") or {}
    facts = [fact(f"{ev['kind']} {ev['id']} on {ev['entity']} at {ev['at']} by {ev.get('actor')}: "
                  f"{ev.get('summary')}", ev.get("ref", ""), "events")]
    if d.get("commit"):
        facts.append(fact(f"commit {d['commit']}", ev.get("ref", ""), "events"))
    if d.get("files"):
        facts.append(fact("files: " + ", ".join(d["files"]), ev.get("ref", ""), "events"))
    if d.get("previous_version"):
        facts.append(fact(f"version {d['previous_version']} → {d.get('version')}", ev.get("ref", ""),
                          "events"))
    if ev.get("diff"):
        facts.append(fact("diff:\n" + str(ev["diff"])[:1500], "#/root_cause/event/diff", "events"))
    return f"The change behind it: {ev.get('summary')}.", facts


def _runbooks(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    rbs = r.get("runbooks") or []
    if not rbs:
        return "No runbook applied to this investigation.", []
    return (f"{len(rbs)} runbook{'s' if len(rbs) != 1 else ''} applied:",
            [fact(f"{b['title']}", b["path"], "runbooks") for b in rbs])


def _topology(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    topo = r.get("topology") or {}
    edges = topo.get("edges") or []
    if not edges:
        return f"No topology around {r['alarm']['entity']} was available.", []
    a = r["alarm"]["entity"]
    mine = [e for e in edges if a in (e["source"], e["target"])] or edges
    return (f"{len(topo.get('nodes') or [])} entities and {len(edges)} relations around {a}:",
            [fact(f"{e['source']} {e['relation']} {e['target']}", "#/topology/edges", "topology")
             for e in mine[:30]])


def _duration(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    imp = (r.get("impact") or {}).get("window") or {}
    facts = [fact(f"impact window {imp.get('minutes')} min from "
                  f"{clock(float(imp['start']))} to {clock(float(imp['end']))} UTC",
                  "#/impact/window")] if imp.get("start") is not None else []
    ver = r.get("verifications") or []
    if ver:
        last = ver[-1]
        facts.append(fact(f"last verification: {last.get('status')} "
                          f"({last.get('recorded_at') or last.get('at')})", "#/verifications",
                          "verify"))
        state = f" The last verification says: {last.get('status')}."
    else:
        state = (" Whether it is over is not in the record: run `shipwise verify "
                 f"{r['id']}` to re-read the series.")
    return (f"The impact lasted at least {imp.get('minutes', '?')} minutes in the window read."
            + state, facts)


def _owner(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    root = r.get("root_cause") or {}
    team = (root.get("node") or {}).get("team")
    facts = []
    if team:
        facts.append(fact(f"{root['entity']} belongs to team {team}", "#/root_cause/node"))
    labels = ((r["alarm"].get("source") or {}).get("labels") or {})
    if labels.get("team"):
        facts.append(fact(f"the alarm was labelled team {labels['team']}", "#/alarm/source/labels"))
    ev = root.get("event") or {}
    if ev.get("actor"):
        facts.append(fact(f"the change was made by {ev['actor']} (a pipeline or a pseudonym)",
                          ev.get("ref", ""), "events"))
    if not facts:
        return "The record does not say which team owns the affected entities.", []
    if ev.get("actor") and re.search(r"\bwho (?:deployed|made|pushed|shipped|changed)\b", q, re.I):
        return f"The {ev.get('kind', 'change')} was made by {ev['actor']}.", facts[::-1]
    return (f"{root.get('entity') or r['alarm']['entity']} is owned by "
            f"{team or labels.get('team') or 'an unknown team'}.", facts)


def _hypotheses(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    hyps = r.get("hypotheses") or []
    if not hyps:
        return "No hypothesis was formed.", []
    return (f"{len(hyps)} hypotheses were weighed, best first:",
            [fact(f"{h['statement']} (score {h['score']}, {len(h.get('for') or [])} for, "
                  f"{len(h.get('against') or [])} against)",
                  next((o["ref"] for o in h.get("for") or [] if o.get("ref")), "#/hypotheses"),
                  h.get("kind", "")) for h in hyps])


def _steps(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    steps = steps_of(r)
    return (f"The investigation's work, {len(steps)} steps:",
            [fact(f"[{s['type']}] {s['text']}", s.get("ref") or "#/steps", s["type"])
             for s in steps])


def _summary(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    root = r.get("root_cause") or {}
    text = (f"{r['alarm']['metric']} alarm on {r['alarm']['entity']} at {r['alarm']['at']}: "
            + (f"root cause {root.get('statement')} ({float(root.get('confidence') or 0):.0%})"
               if r.get("status") == "root_cause_found" else "inconclusive"))
    facts = [fact(f"status: {r.get('status')}", "#/status")]
    if (r.get("impact") or {}).get("summary"):
        facts.append(fact(f"impact: {r['impact']['summary']}", "#/impact/summary"))
    m = (r.get("mitigation") or {}).get("apply") or []
    if m:
        facts.append(fact(f"mitigation: {m[0]['text']}", "#/mitigation/apply/0", "mitigation"))
    return text + ".", facts


def _entity(r: dict[str, Any], q: str) -> tuple[str, Facts]:
    """What the record says of an entity the question names (or of a kind of entity)."""
    named = mentioned_entities(q, r)
    word = ""
    if not named:
        word, named = kind_entities(q, r)
    facts: Facts = []
    triage = {t["entity"]: t for t in r.get("triage") or []}
    refs = {(s["entity"], s["metric"]): s.get("ref", "") for s in r.get("anomalous_series") or []}
    root = (r.get("root_cause") or {}).get("entity")
    for e in named:
        if e == root:
            facts.append(fact(f"{e} is the root cause: {r['root_cause']['statement']}",
                              "#/root_cause"))
        t = triage.get(e)
        if t:
            facts.append(fact(f"{e}: {'anomalous' if t['anomalous'] else 'within its normal range'}"
                              f" ({t.get('top_metric')} score {t['score']})",
                              refs.get((e, t.get("top_metric")), "#/triage"), "metrics"))
        for i in r.get("ruled_out") or []:
            if i["entity"] == e:
                facts.append(fact(f"ruled out: {i['observation']} — {i['reason']}",
                                  i.get("ref", ""), i.get("kind", "")))
        for i in r.get("timeline") or []:
            if i.get("entity") == e:
                facts.append(fact(f"{i['at'][11:19]} {i['what']}", i.get("ref") or "#/timeline",
                                  "timeline"))
    if not named:
        return CANNOT, []
    subject = f"the {word} entities ({', '.join(named)})" if word else ", ".join(named)
    if not facts:
        return (f"The record has nothing on {subject} beyond its place in the topology: "
                "it was not anomalous enough to be triaged.",
                [fact(f"{e} in the topology", "#/topology", "topology") for e in named])
    bad = [e for e in named if (triage.get(e) or {}).get("anomalous") or e == root]
    verdict = (f"{', '.join(bad)} {'was' if len(bad) == 1 else 'were'} anomalous" if bad
               else "none of them was anomalous")
    return f"On {subject}: {verdict}.", facts


@dataclass(frozen=True)
class Intent:
    name: str
    patterns: tuple[tuple[str, float], ...]
    handler: Handler


INTENTS: tuple[Intent, ...] = (
    Intent("root_cause", ((r"\broot[\s-]?cause\b", 3), (r"\bwhat (?:caused|broke|happened)\b", 2),
                          (r"\bwhy did\b", 1.5), (r"\bcause[ds]?\b", 1), (r"\bculprit\b", 2),
                          (r"\bwhat went wrong\b", 2), (r"\bwho(?:'s| is) to blame\b", 1),
                          (r"\bwhat broke\b", 2), (r"\bkick(?:ed)? (?:this|it) off\b", 3),
                          (r"\bset (?:this|it) off\b", 3)), _root_cause),
    Intent("confidence", ((r"\bconfiden(?:ce|t)\b", 3), (r"\bhow sure\b", 3), (r"\bcertain",
                                                                                 2.5),
                          (r"\bsure\b", 1), (r"\blikely\b", 1), (r"\bprobabilit", 2)), _confidence),
    Intent("start", ((r"\bwhen did (?:it|this|the \w+) (?:start|begin)\b", 4),
                     (r"\b(?:start|begin|began|started|onset)\b", 2), (r"\bwhat time\b", 1),
                     (r"\bwhen\b", 0.5), (r"\bwhen did\b", 2), (r"\bfirst (?:sign|symptom)", 2)), _start),
    Intent("timeline", ((r"\btimeline\b", 4), (r"\bsequence\b", 2), (r"\bchronolog", 3),
                        (r"\border of events\b", 3), (r"\bwhat happened\b", 1.5),
                        (r"\bwalk me through\b", 2), (r"\bevents\b", 1)), _timeline),
    Intent("alarms", ((r"\balarms?\b", 2.5), (r"\balerts?\b", 2.5), (r"\bfired\b", 2),
                      (r"\bpage[ds]?\b", 1.5), (r"\btrigger(?:ed)?\b", 1.5),
                      (r"\bthreshold\b", 2)), _alarms),
    Intent("impact", ((r"\bcustomers?\b", 3), (r"\bimpact", 3), (r"\busers?\b", 2),
                      (r"\bhow many\b", 1), (r"\bfailed requests?\b", 3),
                      (r"\bhow bad\b", 2), (r"\bblast radius\b", 2), (r"\berror rate\b", 2),
                      (r"\bseverity\b", 1), (r"\bclients?\b", 1.5)), _impact),
    Intent("ruled_out", ((r"\bruled? out\b", 4), (r"\bwhy not\b", 5), (r"\bexclude", 2.5),
                         (r"\bnot the cause\b", 3), (r"\balternative", 2),
                         (r"\bother (?:causes|suspects|candidates)\b", 2.5),
                         (r"\bdismiss", 2), (r"\bisn'?t it\b", 1.5)), _ruled_out),
    Intent("changes", ((r"\bwhat changed\b", 4), (r"\bchanges?\b", 2), (r"\bdeploy", 2.5),
                       (r"\brelease[ds]?\b", 2), (r"\bconfig", 2), (r"\bpermission", 2),
                       (r"\brollout\b", 2), (r"\bbefore (?:it|the incident|the alarm)\b", 1.5)),
           _changes),
    Intent("mitigation", ((r"\bmitigat", 4), (r"\bhow (?:do|can|should) (?:i|we) fix\b", 4),
                          (r"\bwhat should (?:i|we) do\b", 4), (r"\broll(?:ing)?[\s-]?back\b", 3),
                          (r"\bremediat", 3), (r"\bnext steps?\b", 2.5), (r"\bfix it\b", 3),
                          (r"\bstop the bleeding\b", 3), (r"\bundo\b", 2), (r"\bverif", 2),
                          (r"\brecovered\b", 2), (r"\bback to normal\b", 2),
                          (r"\bcommand", 1.5), (r"\brevert\b", 2.5)), _mitigation),
    Intent("long_term", ((r"\blong[\s-]?term\b", 4), (r"\bprevent", 3), (r"\bpermanent", 3),
                         (r"\bnever happens? again\b", 4), (r"\bfollow[\s-]?up\b", 2),
                         (r"\bspec\b", 2), (r"\bpostmortem action", 3)), _long_term),
    Intent("gaps", ((r"\bgaps?\b", 4), (r"\bcould(?:n'?t| not) (?:you )?see\b", 4),
                    (r"\bblind spots?\b", 4), (r"\bmissing (?:data|sources?|telemetry)\b", 4),
                    (r"\bnot configured\b", 3), (r"\bnot see\b", 4), (r"\bcould(?:n'?t| not)\b.*\bsee\b", 4), (r"\bcan'?t see\b", 4),
                    (r"\bblind\b", 3), (r"\bconnect\b", 2), (r"\bsources?\b", 1.5),
                    (r"\bwhat (?:data|evidence) (?:was|is) missing\b", 4)), _gaps),
    Intent("affected", ((r"\bwhich services\b", 3), (r"\baffected services\b", 4),
                        (r"\banomalous\b", 3), (r"\bwhat (?:else )?(?:is|was) (?:broken|"
                                                  r"unhealthy|affected)\b", 3),
                        (r"\bservices? (?:were|was) (?:hit|affected|impacted)\b", 4),
                        (r"\bunhealthy\b", 3.5)), _affected),
    Intent("evidence", ((r"\bevidence\b", 3.5), (r"\bhow do you know\b", 4), (r"\bproof\b", 3),
                        (r"\bobservations?\b", 2.5), (r"\b(?:what|evidence) supports?\b", 4),
                        (r"\bjustify\b", 2)), _evidence),
    Intent("errors", ((r"\berrors?\b", 1.5), (r"\bexceptions?\b", 3), (r"\blogs?\b", 2.5),
                      (r"\bstack ?traces?\b", 3), (r"\berror messages?\b", 3)), _errors),
    Intent("code", ((r"\bdiff\b", 5), (r"\bwhich files?\b", 5), (r"\bfiles? (?:changed|touched)\b", 5), (r"\bcommit\b", 3),
                    (r"\bwhat code\b", 4), (r"\bcode change\b", 3), (r"\bversion\b", 2)), _code),
    Intent("runbooks", ((r"\brunbooks?\b", 4), (r"\bplaybooks?\b", 4),
                        (r"\bsteering\b", 2)), _runbooks),
    Intent("topology", ((r"\btopology\b", 4), (r"\bdepend(?:s|encies|ency)?\b", 3),
                        (r"\bupstream\b", 3), (r"\bdownstream\b", 3), (r"\bcalls?\b", 1),
                        (r"\barchitecture\b", 2)), _topology),
    Intent("duration", ((r"\bhow long\b", 4), (r"\bduration\b", 4), (r"\bstill (?:going|"
                                                                     r"ongoing|happening|"
                                                                     r"firing)\b", 4),
                        (r"\bis it over\b", 4),
                        (r"\b(?:is|was) (?:the incident|it|this) (?:over|resolved|done)\b", 4), (r"\blast(?:ed)?\b", 0.5)), _duration),
    Intent("owner", ((r"\bwho owns\b", 5), (r"\bowner", 3), (r"\bowns?\b", 2), (r"\bwhich team\b", 5),
                     (r"\bwho (?:deployed|made|pushed|shipped|changed)\b", 5),
                     (r"\bescalate\b", 2)), _owner),
    Intent("hypotheses", ((r"\bhypothes[ie]s\b", 4), (r"\bcandidates?\b", 3),
                          (r"\bsuspects?\b", 2.5), (r"\branking\b", 3),
                          (r"\bwhat else could\b", 3),
                          (r"\bdid you consider\b", 2)), _hypotheses),
    Intent("steps", ((r"\bhow did you (?:investigate|find|decide|work)\b", 4),
                     (r"\bwhat did you (?:check|look at|query|read)\b", 4),
                     (r"\bquer(?:y|ies)\b", 3), (r"\bsteps?\b", 2), (r"\bshow (?:your|its) work\b", 4),
                     (r"\bwhat data\b", 2.5)), _steps),
    Intent("summary", ((r"\bsummar", 4), (r"\btl;?dr\b", 4), (r"\boverview\b", 3),
                       (r"\bstatus\b", 2), (r"\bexplain\b", 1), (r"\bbrief me\b", 4),
                       (r"\bincident channel\b", 4), (r"\bstatus update\b", 4),
                       (r"\bwhat should (?:i|we) (?:post|tell|say)\b", 4)), _summary),
)


def match_intent(question: str, record: dict[str, Any] | None = None) -> str | None:
    """The intent whose patterns weigh most in ``question`` (None: none matches). A question
    naming an entity of the record (or a kind such as 'database') with nothing else recognised
    is about that entity (``entity``)."""
    best, best_score = None, 0.0
    for intent in INTENTS:
        score = sum(w for p, w in intent.patterns if re.search(p, question, re.I))
        if score > best_score:
            best, best_score = intent.name, score
    if record is not None and (best is None or best_score < 2) and (
            mentioned_entities(question, record) or kind_entities(question, record)[1]):
        return "entity"
    return best


def main_facts(record: dict[str, Any], limit: int = 40) -> Facts:
    """The record's main facts, each with its reference: what an LLM is given for an open
    question no intent answers (summary, root cause and evidence, impact, timeline, ruled out,
    changes, gaps)."""
    out: Facts = []
    for handler in (_summary, _root_cause, _impact, _timeline, _ruled_out, _gaps):
        for f in handler(record, "")[1]:
            if all(f["text"] != g["text"] for g in out):
                out.append(f)
    return out[:limit]


HANDLERS: dict[str, Handler] = {i.name: i.handler for i in INTENTS} | {"entity": _entity}


def answer(record: dict[str, Any], question: str) -> dict[str, Any]:
    """``{question, intent, answered, answer, facts: [{text, ref, source}], suggestions}``."""
    q = " ".join(question.split())
    intent = match_intent(q, record)
    if intent is None:
        return {"question": q, "intent": None, "answered": False, "answer": CANNOT,
                "facts": [], "suggestions": list(SUGGESTIONS)}
    text, facts = HANDLERS[intent](record, q)
    answered = text != CANNOT
    return {"question": q, "intent": intent, "answered": answered, "answer": text,
            "facts": facts, "suggestions": [] if answered else list(SUGGESTIONS)}
