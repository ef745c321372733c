"""Deployments from git tags: for a team that only has a repository, each tag matching a pattern
(``deployments_from_tags: "v*"``) is a production deployment of the repository's service.

A matching tag becomes one canonical ``deployment``:

* ``id`` ``git:<repo>@<tag>`` (stable: the same tag is the same deployment on every run);
* ``started_at`` = ``finished_at`` = the tagger's time for an annotated tag, else the tagged
  commit's committer time; ``status`` ``success``; ``version`` the tag's name;
* ``commits``: the commits reachable from this tag and not from the **previous matching tag in
  time order** (``git rev-list prev..tag``). The first matching tag ships its whole history, so
  the lead time of that first deployment is long (every commit since the repository began): read
  it as the start of the record, not as a figure about delivery;
* ``source`` ``git:<repo> tag <name>`` and ``rule`` ``tag 'v1.2.0' matches deployments_from_tags
  'v*'``, shown by ``shipwise explain deployment``.

Patterns are shell-style (:func:`fnmatch.fnmatchcase`) and **case-sensitive**, like
``git tag -l 'v*'``: tag names are case-sensitive in git.

Incremental: the cursor keeps the tags already turned into deployments (name -> commit sha) and
the service and environment they were given; a tag is emitted again only when it moved to another
commit or the service or environment changed (e.g. after the organisation file named the
repository's service, so a deployment quarantined as ``unknown service`` is imported). The range of
a new tag is still computed against the previous matching tag, emitted in an earlier run or not.
Walking is libgit2's: the commits' contents are not read again (no diff).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pygit2
from pygit2.enums import ReferenceType

from shipwise.connectors.base import JSON
from shipwise.connectors.git.mapping import epoch_micros

INSTANT = pa.timestamp("us", tz="UTC")

DEPLOYMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("service", pa.string(), nullable=False),
        pa.field("environment", pa.string(), nullable=False),
        pa.field("started_at", INSTANT),
        pa.field("finished_at", INSTANT),
        pa.field("status", pa.string(), nullable=False),
        pa.field("commits", pa.list_(pa.string()), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
    ]
)

#: The cursor key holding what was emitted (see :func:`tag_state`).
CURSOR_KEY = "deployed_tags"


@dataclass(frozen=True)
class MatchingTag:
    name: str
    sha: str
    at: int | None  # epoch seconds (tagger time, else the commit's committer time)


def deployment_id(repo: str, tag: str) -> str:
    return f"git:{repo}@{tag}"


def deployment_source(repo: str, tag: str) -> str:
    return f"git:{repo} tag {tag}"


def deployment_rule(tag: str, pattern: str) -> str:
    return f"tag {tag!r} matches deployments_from_tags {pattern!r}"


def matches(tag: str, pattern: str) -> bool:
    """Whether tag name ``tag`` matches the shell-style ``pattern`` (case-sensitive)."""
    return fnmatch.fnmatchcase(tag, pattern)


def matching_tags(repository: pygit2.Repository, pattern: str) -> list[MatchingTag]:
    """The tags naming a commit whose name matches ``pattern``, oldest first (ties by name)."""
    found: list[MatchingTag] = []
    for ref in repository.references.iterator():
        name = ref.name
        if not name.startswith("refs/tags/") or ref.type != ReferenceType.DIRECT:
            continue
        tag = name.removeprefix("refs/tags/")
        if not matches(tag, pattern):
            continue
        target = repository.get(ref.target)
        if target is None:
            continue
        try:
            commit = target.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError, KeyError):
            continue  # a tag of a tree or a blob: nothing was shipped
        tagger = target.tagger if isinstance(target, pygit2.Tag) else None
        at = tagger.time if tagger is not None else commit.commit_time
        found.append(MatchingTag(tag, str(commit.id), at))
    found.sort(key=lambda t: (t.at if t.at is not None else 0, t.name))
    return found


def tag_state(cursor: Mapping[str, JSON]) -> tuple[dict[str, str], str | None]:
    """The tags a cursor says were emitted (name -> sha) and as what (``service|environment``).
    Cursors of earlier versions have neither: every matching tag is new."""
    raw = cursor.get(CURSOR_KEY)
    if not isinstance(raw, Mapping):
        return {}, None
    tags = raw.get("tags")
    target = raw.get("as")
    emitted = ({str(k): v for k, v in tags.items() if isinstance(v, str)}
               if isinstance(tags, Mapping) else {})
    return emitted, target if isinstance(target, str) else None


def tag_deployments(
    repository: pygit2.Repository,
    repo: str,
    pattern: str,
    service: str,
    environment: str,
    seen: Mapping[str, JSON],
) -> tuple[pa.Table, dict[str, JSON]]:
    """The deployments of the matching tags not emitted before, and the cursor entry to keep.

    ``seen`` is the cursor's state (its :data:`CURSOR_KEY` entry is read). Returns the table (in
    :data:`DEPLOYMENT_SCHEMA`) and the new value of :data:`CURSOR_KEY`.
    """
    emitted, target = tag_state(seen)
    as_ = f"{service}|{environment}"
    if target != as_:
        emitted = {}  # given another service or environment: every tag again (same ids)
    tags = matching_tags(repository, pattern)
    rows: dict[str, list[object]] = {f.name: [] for f in DEPLOYMENT_SCHEMA}
    previous: MatchingTag | None = None
    for tag in tags:
        if emitted.get(tag.name) != tag.sha:
            walker = repository.walk(pygit2.Oid(hex=tag.sha))
            if previous is not None:
                walker.hide(pygit2.Oid(hex=previous.sha))
            at = epoch_micros(tag.at) if tag.at is not None else None
            for column, value in (
                ("id", deployment_id(repo, tag.name)), ("service", service),
                ("environment", environment), ("started_at", at), ("finished_at", at),
                ("status", "success"), ("commits", [str(c.id) for c in walker]),
                ("version", tag.name), ("kind", "normal"),
                ("source", deployment_source(repo, tag.name)),
                ("rule", deployment_rule(tag.name, pattern)),
            ):
                rows[column].append(value)
        previous = tag
    columns = [pa.array(rows[f.name], pa.int64()).cast(INSTANT) if f.type == INSTANT
               else pa.array(rows[f.name], f.type) for f in DEPLOYMENT_SCHEMA]
    table = pa.table(columns, schema=DEPLOYMENT_SCHEMA)
    state: dict[str, JSON] = {"as": as_, "tags": {t.name: t.sha for t in tags}}
    return table, state
