"""Reading an organisation file: YAML with positions, the model, then checks across entries.

:func:`parse` reports every problem it finds, each with its line (and column), never only the
first: a YAML syntax error, an unknown key, a bad time zone or working hours, ``until`` before
``since``, a duplicate id, a reference to a team or org unit the file does not define, overlapping
memberships or ownerships, an email or login claimed by two people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from shipwise.errors import InputError
from shipwise.orgfile.model import (
    OrgFile,
    OrgUnitSpec,
    Period,
    PersonSpec,
    ServiceSpec,
    TeamSpec,
)
from shipwise.orgfile.yamlpos import Located, Path, Problem, load


class OrgFileError(InputError):
    """The organisation file has problems (``problems``, each with its line); nothing was
    written."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems)
        first = "; ".join(str(p) for p in self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s): {first}{more}",
                         hint="fix the file and run again; nothing was written")


@dataclass(frozen=True)
class OrgDocument:
    """A valid organisation file and where each of its values is."""

    org: OrgFile
    located: Located
    source: str

    def line(self, path: Path) -> int:
        return self.located.at(path)[0]

    def problem(self, path: Path, message: str) -> Problem:
        return self.located.problem(path, message)


def parse(text: str, source: str = "org.yaml") -> OrgDocument:
    """The organisation file in ``text``, or :class:`OrgFileError` with every problem found."""
    located = load(text)
    problems = list(located.problems)
    if located.data is None and not problems:
        problems.append(Problem(1, 1, "the file is empty (it starts with `version: 1`)"))
    if problems and located.data is None:
        raise OrgFileError(source, problems)
    if not isinstance(located.data, dict):
        raise OrgFileError(source, [*problems, located.problem((), "the file is a mapping "
                                                               "that starts with `version: 1`")])
    data = located.data
    sections: dict[str, list[Any]] = {}
    for name, model in SECTIONS.items():  # entry by entry: a bad one hides no other problem
        items = data.get(name)
        if not isinstance(items, list):
            sections[name] = []
            continue
        sections[name] = []
        for i, item in enumerate(items):
            try:
                sections[name].append(model.model_validate(item))
            except ValidationError as exc:
                problems.extend(_model_problems(exc, located, (name, i)))
                sections[name].append(None)
    shell = {k: v for k, v in data.items() if k not in SECTIONS or not isinstance(v, list)}
    try:
        OrgFile.model_validate(shell)
    except ValidationError as exc:
        problems.extend(_model_problems(exc, located, ()))
    problems.extend(cross_checks(sections, located))
    if problems:
        raise OrgFileError(source, problems)
    org = OrgFile.model_validate(data)
    return OrgDocument(org, located, source)


SECTIONS: dict[str, type[BaseModel]] = {
    "org_units": OrgUnitSpec, "teams": TeamSpec, "people": PersonSpec, "services": ServiceSpec}


def _model_problems(exc: ValidationError, located: Located, at: Path) -> Iterable[Problem]:
    for err in exc.errors():
        loc = (*at, *err["loc"])
        # a union or a model check names the kind after the path: keep the path part
        path = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith(
            ("function-", "list[", "str", "date", "int", "bool", "literal")))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            yield located.problem((*path, "__key__"), f"unknown key '{key}'{_allowed(path)}")
        elif kind == "missing":
            yield located.problem(path[:-1], f"missing {path[-1]}")
        elif kind == "literal_error" and path == ("version",):
            yield located.problem(path, "version must be 1 (the only organisation file format)")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err.get("input") is not None and kind not in ("value_error",) and \
                    not isinstance(err["input"], dict | list):
                msg += f" (got {err['input']!r})"
            yield located.problem(path, f"{_name(path)}{msg}")


def _name(path: Path) -> str:
    fields = [str(p) for p in path if isinstance(p, str)]
    return f"{fields[-1]}: " if fields and path and isinstance(path[-1], str) else ""


_KEYS: dict[str, tuple[str, ...]] = {
    "": ("version", "org_units", "teams", "people", "services"),
    "org_units": ("id", "name", "parent"),
    "teams": ("id", "name", "org_unit", "delivery_unit", "timezone", "working_hours",
              "working_days", "team_type", "location", "working_arrangement",
              "incident_window_hours", "incident_labels", "attributes"),
    "people": ("emails", "logins", "ids", "bot", "memberships"),
    "memberships": ("team", "since", "until"),
    "services": ("id", "name", "team", "owners", "repos", "deploy_targets"),
    "owners": ("team", "since", "until"),
    "deploy_targets": ("repo", "environment", "job"),
    "incident_labels": ("deployment", "version"),
}


def _allowed(path: Path) -> str:
    section = next((str(p) for p in reversed(path[:-1]) if isinstance(p, str)), "")
    keys = _KEYS.get(section)
    return f" (allowed: {', '.join(keys)})" if keys else ""


def _overlaps(periods: Sequence[tuple[Period, Path]]) -> Iterable[tuple[Path, Path]]:
    """Pairs of periods (inclusive days; no since/until: unbounded) that share a day."""
    lo, hi = date.min, date.max
    ordered = sorted(periods, key=lambda p: (p[0].since or lo, p[0].until or hi))
    for i, (a, pa) in enumerate(ordered):
        for b, pb in ordered[i + 1:]:
            if (b.since or lo) <= (a.until or hi):
                yield pa, pb


def normalise_id(raw: str) -> str:
    """A person id as the pseudonymiser compares it (``governance.pseudonym.normalise_id``;
    this package stays free of the store's dependencies)."""
    return raw.strip().lower()


def _raw(located: Located, section: str) -> list[Any]:
    items = located.data.get(section) if isinstance(located.data, dict) else None
    return items if isinstance(items, list) else []


def cross_checks(sections: dict[str, list[Any]], located: Located) -> list[Problem]:
    """Problems across entries (each with the line of the entry at fault); entries that are
    themselves invalid are ``None`` and skipped."""
    out: list[Problem] = []
    org_units: list[OrgUnitSpec | None] = sections["org_units"]
    team_specs: list[TeamSpec | None] = sections["teams"]
    people: list[PersonSpec | None] = sections["people"]
    services: list[ServiceSpec | None] = sections["services"]

    def unique(section: str, items: Sequence[Any]) -> set[str]:
        seen: dict[str, int] = {}
        for i, raw in enumerate(_raw(located, section)):  # as written: an invalid entry too
            ident = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(ident, str):
                continue
            ident = ident.strip()
            if ident in seen:
                line = located.at((section, seen[ident], "id"))[0]
                out.append(located.problem((section, i, "id"),
                                           f"duplicate id '{ident}' (first at line {line})"))
            else:
                seen[ident] = i
        # an entry with other problems still defines its id: no cascade of "not a team"
        return set(seen) | {item.id for item in items if item is not None}

    units = unique("org_units", org_units) | {None}
    teams = unique("teams", team_specs) | {None}
    unique("services", services)

    parents = {u.id: u.parent for u in org_units if u is not None}
    for i, u in enumerate(org_units):
        if u is None:
            continue
        if u.parent is not None and u.parent not in units:
            out.append(located.problem(("org_units", i, "parent"),
                                       f"parent '{u.parent}' is not an org unit of this file"))
        seen, at = {u.id}, u.parent
        while at is not None and at in parents:
            if at in seen:
                out.append(located.problem(("org_units", i, "parent"),
                                           f"org unit '{u.id}' is its own ancestor"))
                break
            seen.add(at)
            at = parents[at]
    for i, t in enumerate(team_specs):
        if t is None:
            continue
        if t.org_unit not in units:
            out.append(located.problem(("teams", i, "org_unit"),
                                       f"org_unit '{t.org_unit}' is not an org unit of this file"))

    claimed: dict[str, Path] = {}
    for i, entry in enumerate(_raw(located, "people")):  # as written: an invalid entry too
        for key in ("emails", "logins", "ids"):
            values = entry.get(key) if isinstance(entry, dict) else None
            for j, raw in enumerate(values if isinstance(values, list) else []):
                if not isinstance(raw, str) or not raw.strip():
                    continue
                path: Path = ("people", i, key, j)
                ident = normalise_id(raw)
                if ident in claimed:
                    other = claimed[ident]
                    whose = "this person" if other[1] == i else "another person"
                    out.append(located.problem(path, f"{key[:-1]} '{raw}' is already claimed by "
                                                     f"{whose} (line {located.at(other)[0]})"))
                else:
                    claimed[ident] = path
    for i, person in enumerate(people):
        if person is None:
            continue
        for j, m in enumerate(person.memberships):
            if m.team not in teams:
                out.append(located.problem(("people", i, "memberships", j, "team"),
                                           f"team '{m.team}' is not a team of this file"))
        for pa, pb in _overlaps([(m, ("people", i, "memberships", j))
                                 for j, m in enumerate(person.memberships)]):
            out.append(located.problem(pb, f"membership overlaps the one at line "
                                           f"{located.at(pa)[0]} (a person is in one team at a "
                                           "time; `until` is the last day, inclusive)"))

    repos: dict[tuple[str, str | None, str | None], tuple[str, Path]] = {}
    for i, s in enumerate(services):
        if s is None:
            continue
        if s.team is not None and s.team not in teams:
            out.append(located.problem(("services", i, "team"),
                                       f"owner '{s.team}' is not a team of this file"))
        for j, o in enumerate(s.owners):
            if o.team not in teams:
                out.append(located.problem(("services", i, "owners", j, "team"),
                                           f"owner '{o.team}' is not a team of this file"))
        for pa, pb in _overlaps([(o, ("services", i, "owners", j))
                                 for j, o in enumerate(s.owners)]):
            out.append(located.problem(pb, f"ownership overlaps the one at line "
                                           f"{located.at(pa)[0]} (one owner at a time; `until` "
                                           "is the last day, inclusive)"))
        targets: list[tuple[tuple[str, str | None, str | None], Path]] = [
            ((r.lower(), None, None), ("services", i, "repos", j))
                   for j, r in enumerate(s.repos)]
        targets += [((t.repo.lower(), t.environment, t.job), ("services", i, "deploy_targets", j))
                    for j, t in enumerate(s.deploy_targets)]
        for target, path in targets:
            if target in repos:
                owner, other = repos[target]
                what = "repository" if target[1:] == (None, None) else "deploy target"
                out.append(located.problem(path, f"{what} {target[0]} is already claimed by "
                                                 f"service '{owner}' (line {located.at(other)[0]})"))
            else:
                repos[target] = (s.id, path)
    return out
