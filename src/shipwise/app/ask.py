"""Follow-up questions on an investigation (docs/ask.md): ``shipwise ask``, ``POST
/api/v1/investigations/{id}/ask``, the MCP tool ``ask_investigation`` and the chat panel of the
investigation page all call :func:`ask`.

The answer comes from the stored record, deterministically (:mod:`shipwise.investigate.ask`). A
question that narrows the investigation ("focus on the most recent wave", "only us-east", "what
about the database?", "last 30 minutes") re-runs it with the narrowed window or scope
(:func:`rescope`, which needs the right to start investigations of the service) and links both
records. When an LLM is configured (``llm:`` in shipwise.yaml) the answer is also rephrased in
prose from its facts; any failure of the LLM leaves the deterministic answer alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shipwise.app import investigate as engine
from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.results import Answer, AnswerFact, Prose, Rescoped, RescopeLink
from shipwise.errors import ForbiddenError, InputError, NotFoundError, ShipwiseError
from shipwise.investigate import ask as intents
from shipwise.investigate import prose
from shipwise.investigate.rescope import parse_narrowing
from shipwise.store import investigation_links as links
from shipwise.store import investigations as table
from shipwise.store import org
from shipwise.store.duckdb_store import lend

MAX_QUESTION = 500


def _team_of(caller: Caller, inv_id: str) -> str | None:
    found = table.entity_of(caller.store, inv_id)
    return org.service_team(caller.store, found) if found is not None else caller.own_team


def _read_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    inv_id = arguments["inv_id"]
    return [Access("investigations.read", f"investigation:{inv_id}", _team_of(caller, inv_id))]


def _start_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    inv_id = arguments["inv_id"]
    team = _team_of(caller, inv_id)
    return [Access("investigations.read", f"investigation:{inv_id}", team),
            Access("investigations.start", f"investigation:{inv_id}", team)]


def _record(caller: Caller, inv_id: str) -> dict[str, Any]:
    rec = table.record(caller.store, inv_id)
    if rec is None:
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    return rec


def _question(question: str) -> str:
    q = " ".join(str(question).split())
    if not q:
        raise InputError("empty question", hint='e.g. shipwise ask INV "when did it start?"')
    if len(q) > MAX_QUESTION:
        raise InputError(f"question longer than {MAX_QUESTION} characters",
                         hint="ask one thing at a time")
    return q


@guard("investigations.read", accesses=_read_access)
def rescoped(caller: Caller, inv_id: str) -> list[RescopeLink]:
    """The investigations linked to ``inv_id`` by re-scoping: its children (narrowed from it)
    and its parent, if it is one."""
    out = [RescopeLink(id=c["child_id"], relation="child", question=c["question"],
                       narrowing=c["narrowing"].get("text", ""))
           for c in links.children(caller.store, inv_id)]
    out += [RescopeLink(id=p["parent_id"], relation="parent", question=p["question"],
                        narrowing=p["narrowing"].get("text", ""))
            for p in links.parents(caller.store, inv_id)]
    return out


@guard("investigations.start", accesses=_start_access)
def rescope(caller: Caller, inv_id: str, question: str) -> Rescoped | None:
    """Re-run investigation ``inv_id`` narrowed as ``question`` says, store the new record and
    link it to ``inv_id``. None: the question narrows nothing, or the narrowing kept nothing
    of the evidence. Needs the right to start investigations of the service."""
    rec = _record(caller, inv_id)
    q = _question(question)
    narrowing = parse_narrowing(q, rec)
    if narrowing is None:
        return None
    child = engine.reinvestigate(caller.settings, rec, narrowing, q, session=lend(caller.store))
    if child is None:
        return None
    root = child.get("root_cause") or {}
    parent_root = (rec.get("root_cause") or {}).get("entity")
    return Rescoped(id=str(child["id"]), parent_id=inv_id, narrowing=narrowing.text,
                    kind=narrowing.kind, status=str(child["status"]),
                    root_cause=root.get("statement") if child["status"] == "root_cause_found"
                    else None,
                    same_root_cause=bool(parent_root) and root.get("entity") == parent_root
                    and child["status"] == "root_cause_found")


@guard("investigations.read", accesses=_read_access)
def ask(caller: Caller, inv_id: str, question: str, *, rescope_allowed: bool = True) -> Answer:
    """Answer ``question`` about investigation ``inv_id`` from its record; a re-scoping
    question re-runs it narrowed (unless ``rescope_allowed`` is false, or the caller may not
    start investigations of the service: then it is answered from the record, saying why)."""
    rec = _record(caller, inv_id)
    q = _question(question)
    got = intents.answer(rec, q)
    out: dict[str, Any] = {"investigation_id": inv_id, **got,
                           "children": [{"id": c["child_id"], "question": c["question"],
                                         "narrowing": c["narrowing"].get("text", "")}
                                        for c in links.children(caller.store, inv_id)]}
    narrowing = parse_narrowing(q, rec)
    if narrowing is not None:
        if not rescope_allowed:
            out["rescope_note"] = f"not re-run (asked not to): it would read {narrowing.text}"
        else:
            try:
                done = rescope(caller, inv_id, q)
            except ForbiddenError:
                done = None
                out["rescope_note"] = ("not re-run: re-scoping starts an investigation, which "
                                       "your role may not do for this service")
            except ShipwiseError as exc:  # e.g. no evidence source to re-run with
                done = None
                out["rescope_note"] = f"not re-run: {exc}" + (f" ({exc.hint})" if exc.hint else "")
            if done is None and "rescope_note" not in out:
                region = ((rec["alarm"].get("source") or {}).get("labels") or {}).get("region")
                out["rescope_note"] = (f"not re-run: no entity of the evidence matches "
                                       f"({narrowing.text})"
                                       + (f"; the alarm is labelled region {region}"
                                          if region and narrowing.kind == "region" else ""))
            if done is not None:
                out.update(_rescoped_answer(done, q))
                out["children"] = [c for c in out["children"] if c["id"] != done.id] + [
                    {"id": done.id, "question": q, "narrowing": done.narrowing}]
        if not out.get("rescoped") and not out["answered"]:
            out["answer"] = f"{intents.CANNOT} ({out['rescope_note']})"
    out["facts"] = [AnswerFact.model_validate(f) for f in out["facts"]]
    settings = caller.settings.llm
    if settings.active and (out["answered"] or not out.get("rescope_note")):
        # an open question (no intent matched): the model gets the record's main facts, which
        # are then shown as the answer's facts; the deterministic answer stays "I can't"
        opened = not out["answered"]
        if opened:
            out["facts"] = [AnswerFact.model_validate(f) for f in intents.main_facts(rec)]
        try:
            said = prose.rephrase(settings, q, out["answer"], [f.text for f in out["facts"]])
            out["prose"] = Prose(text=said.text, model=said.model, open_question=opened)
        except prose.ProseError as exc:
            out["prose_error"] = str(exc)
    return Answer.model_validate(out)


def _rescoped_answer(done: Rescoped, question: str) -> dict[str, Any]:
    same = (" — the same root cause as before" if done.same_root_cause else
            " — a different conclusion from the original" if done.root_cause else "")
    verdict = f"root cause {done.root_cause}" if done.root_cause else "inconclusive"
    return {"intent": "rescope", "answered": True, "rescoped": done, "suggestions": [],
            "answer": f"Re-ran the investigation on {done.narrowing}: {verdict}{same}.",
            "facts": [{"text": f"new investigation {done.id} ({done.status}), linked to "
                               f"{done.parent_id}", "ref": f"/investigations/{done.id}",
                       "source": "investigation"},
                      {"text": f"narrowed to {done.narrowing}",
                       "ref": f"investigation_link:{done.parent_id}/{done.id}",
                       "source": "investigation"}]}
