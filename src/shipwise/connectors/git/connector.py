"""Read commits and tags from a local git repository with pygit2 (libgit2), incrementally.

:class:`GitConnector` is the :class:`~shipwise.connectors.base.Connector` of one local
repository: one scope (the repository id), one batch per sync (the new commits and every tag),
and a cursor holding the ref tips walked (``{"tips": {ref: sha}, "path": ...}``), which the next
sync hides from its walk. With ``deployments_from_tags``, matching tags are also production
deployments (:mod:`.tags`), and the cursor keeps which were emitted (``deployed_tags``).

:func:`read_repository` is pure reading: it opens the repository, walks the history and returns
Arrow tables in the shape of the canonical ``commit`` type plus the repository's tags, and the
tips it walked. It touches no database; the caller stores the rows and keeps ``tips`` as the
cursor for the next run.

What is walked
    Every commit reachable from a local branch (``refs/heads/``), a remote-tracking branch
    (``refs/remotes/``), a tag (``refs/tags/``, peeled to its commit) or ``HEAD`` when it is
    detached, except commits reachable from ``known`` (the tips of the previous run). A re-run
    with nothing new hides everything it pushes: the walk ends at once and the diff work, which
    is where the time goes, is not done. Symbolic refs (``refs/remotes/origin/HEAD``) are
    followed through the ref they name. A branch deleted since the previous run simply is not
    a tip any more; its commits were read when it existed. Commits of a branch deleted before
    it was ever read, and never merged, are unreachable and not read (like ``git log --all``).

How lines are counted (``additions``, ``deletions``, ``files_changed``)
    Like ``git log --numstat --no-renames``, whose totals the tests compare with:

    * an ordinary commit is diffed against its parent, a root commit against the empty tree;
    * **a merge commit counts 0 / 0 / 0**, which is what ``git log --numstat`` prints for merges
      by default. The lines a merge brings in were already counted on the commits of the merged
      branch; diffing against the first parent would count them a second time. Lines written
      while resolving conflicts in the merge itself are not counted;
    * no rename detection: a moved file counts as one file deleted and one added (two files
      changed, its lines as deleted and added), as with ``--no-renames``. git's default rename
      detection is heuristic and costs a similarity search per commit;
    * a binary file counts as a changed file with 0 lines (``-  -`` in ``--numstat``), and so
      does a mode-only change;
    * ``files_changed`` counts paths, a submodule (gitlink) update included;
    * in a shallow clone the oldest commits present have no parents (as ``git log`` shows them)
      and count their whole tree as added: read a full clone.

Other fields
    ``author`` is the author's email as recorded (raw; no mailmap, no case folding; the name when
    the email is empty, null when both are). ``authored_at`` and ``committed_at`` are the author
    and committer instants in UTC (git stores epoch seconds plus the author's offset; see
    :mod:`.mapping`). ``parents`` lists parent shas in order (first parent first).
    ``author_kind``/``agent``: ``agent`` and its name when the ``ai.agents`` rules recognise an
    agent account as the author or a ``Co-authored-by:`` trailer of the message names an agent,
    ``bot`` for a configured plain bot, else empty (the importer then reads ``bot`` or
    ``human`` from the author; see :mod:`shipwise.governance.agents`). The message itself is
    not kept.

Speed
    The cost is the per-commit diff (loading both versions of each changed blob and running
    xdiff). Reading is done in commit-time order, so consecutive diffs reuse libgit2's cache of
    delta bases, and with libgit2's *strict hash verification* switched off for the duration:
    it re-hashes every object read, which ``git log`` does not do (objects are still checked
    for corruption by zlib and pack CRCs). It is process-global, set back to libgit2's default
    (on) afterwards. See ``bench/bench_git_ingest.py``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pygit2
from pygit2.enums import ObjectType, ReferenceType, RepositoryOpenFlag, SortMode

from shipwise.config import AgentSettings, GitSource
from shipwise.connectors.base import JSON, Batch, Cursor, Scope
from shipwise.connectors.git.mapping import epoch_micros, person_id
from shipwise.connectors.git.tags import CURSOR_KEY, tag_deployments
from shipwise.domain.services import ServiceMap
from shipwise.errors import ConfigError, InputError
from shipwise.governance.agents import AgentRules

INSTANT = pa.timestamp("us", tz="UTC")

COMMIT_SCHEMA = pa.schema(
    [
        pa.field("sha", pa.string(), nullable=False),
        pa.field("repo", pa.string(), nullable=False),
        pa.field("author", pa.string()),
        pa.field("authored_at", INSTANT),
        pa.field("committed_at", INSTANT),
        pa.field("additions", pa.int64(), nullable=False),
        pa.field("deletions", pa.int64(), nullable=False),
        pa.field("files_changed", pa.int64(), nullable=False),
        pa.field("parents", pa.list_(pa.string()), nullable=False),
        pa.field("author_kind", pa.string()),
        pa.field("agent", pa.string()),
    ]
)

TAG_SCHEMA = pa.schema(
    [
        pa.field("repo", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("sha", pa.string(), nullable=False),
        pa.field("tagged_at", INSTANT),
        pa.field("tagger", pa.string()),
    ]
)

#: Ref namespaces whose tips are walked.
WALKED_PREFIXES = ("refs/heads/", "refs/remotes/", "refs/tags/")

#: ``progress`` is called every this many commits (and once at the end).
PROGRESS_EVERY = 250

_NOT_A_REPO_HINT = (
    "Pass the directory of a clone (the one holding .git), its .git directory, or a bare "
    "repository; `git -C PATH rev-parse --git-dir` must succeed there."
)


@dataclass(frozen=True)
class GitBatch:
    """What one read of a repository found.

    ``commits`` has the columns of :data:`COMMIT_SCHEMA`, ``tags`` those of :data:`TAG_SCHEMA`
    (every tag that names a commit, new or not: there are few and the importer upserts them).
    ``tips`` maps each walked ref (``refs/heads/main``, ``refs/tags/v1.0``, ``HEAD`` when
    detached) to its commit sha: pass ``tips.values()`` as ``known`` next time.
    """

    commits: pa.Table
    tags: pa.Table
    tips: dict[str, str]


def default_repo_name(path: str | Path) -> str:
    """The repository id used when none is given: the folder's name, without ``.git``."""
    p = Path(path).expanduser().resolve()
    name = p.name if p.name != ".git" else p.parent.name
    return name[:-4] if name.endswith(".git") else name


class GitConnector:
    """The connector of one local git repository (see the module docstring).

    With ``deployments_from_tags`` (an fnmatch pattern, ``v*``), each matching tag is also a
    production deployment (see :mod:`.tags`) of ``service``, else of the service ``services``
    resolves the repository to, else of a service named like the repository id (which the
    importer quarantines as ``unknown service`` when there is none). ``environment`` is the
    deployments' environment.

    Errors are terminal: :class:`~shipwise.errors.InputError` when ``path`` is not a readable
    repository (nothing transient can happen to a local directory).
    """

    kind = "git"
    #: the instance (its cursors in ``sync_state``): ``git``, or the source's name
    name: str = "git"

    def __init__(
        self,
        path: str | Path,
        repo: str | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        deployments_from_tags: str | None = None,
        service: str | None = None,
        services: ServiceMap | None = None,
        environment: str = "production",
        agents: AgentSettings | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.agents = AgentRules.of(agents or AgentSettings())
        self.repo = repo or default_repo_name(self.path)
        self.progress = progress
        self.deployments_from_tags = deployments_from_tags or None
        self.environment = environment
        self.services = services
        self.service = service or (services.resolve(self.repo, environment) if services else None)

    @classmethod
    def from_source(
        cls,
        source: GitSource,
        services: ServiceMap | None = None,
        progress: Callable[[int], None] | None = None,
        agents: AgentSettings | None = None,
    ) -> GitConnector:
        """The connector a ``kind: git`` source of ``shipwise.yaml`` describes (its
        ``deployments_from_tags`` honoured, the service resolved through ``services``)."""
        connector = cls(source.path, source.repo, progress,
                        deployments_from_tags=source.deployments_from_tags, services=services,
                        agents=agents)
        connector.name = source.id  # its cursors are kept under the source's name
        return connector

    @property
    def deployment_service(self) -> str:
        """The service tag deployments are recorded for (the repository id when none is known)."""
        return self.service or self.repo

    def scopes(self) -> list[Scope]:
        return [Scope(self.repo, str(self.path))]

    def check(self) -> list[str]:
        """Whether ``path`` opens as a git repository (no history is read)."""
        try:
            open_repository(self.path).free()
        except InputError as exc:
            return [f"{exc} {exc.hint}" if exc.hint else str(exc)]
        return []

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        """One batch: the commits not reachable from the cursor's tips, every tag and, with
        ``deployments_from_tags``, the deployments of matching tags not emitted before."""
        if scope.key != self.repo:
            raise ConfigError(f"the git connector of {self.path} syncs {self.repo!r}, not {scope.key!r}")
        batch = read_repository(self.path, scope.key, known_tips(cursor), self.progress,
                                agents=self.agents)
        records = {"commit": batch.commits, "tag": batch.tags}
        state: dict[str, JSON] = {"tips": dict(batch.tips), "path": str(self.path.resolve())}
        if CURSOR_KEY in cursor.state:  # kept when this run does not look at tags
            state[CURSOR_KEY] = cursor.state[CURSOR_KEY]
        if self.deployments_from_tags:
            deployments, emitted = read_tag_deployments(
                self.path, scope.key, self.deployments_from_tags, self.deployment_service,
                self.environment, cursor.state)
            records["deployment"] = deployments
            if self.services is None or self.deployment_service in self.services.services:
                state[CURSOR_KEY] = emitted
            # else the importer quarantines them (unknown service): not remembered, so the run
            # after the service is named emits them again
        yield Batch(records, Cursor(state))


def read_tag_deployments(
    path: str | Path,
    repo: str,
    pattern: str,
    service: str,
    environment: str,
    cursor: Mapping[str, JSON],
) -> tuple[pa.Table, dict[str, JSON]]:
    """:func:`.tags.tag_deployments` on the repository at ``path`` (opened and freed here)."""
    repository = open_repository(path)
    try:
        return tag_deployments(repository, repo, pattern, service, environment, cursor)
    except (pygit2.GitError, KeyError) as exc:
        raise InputError(
            f"Cannot walk the tags of git repository {path}: {exc}",
            hint="The repository may be shallow, partial or damaged: run `git fsck` there, "
            "or read a full clone (`git fetch --unshallow`).",
        ) from exc
    finally:
        repository.free()


def known_tips(cursor: Cursor) -> list[str]:
    """The commit shas a cursor says were read (none for the start or a cursor of another shape)."""
    tips = cursor.state.get("tips")
    if not isinstance(tips, Mapping):
        return []
    return [sha for sha in tips.values() if isinstance(sha, str)]


def read_repository(
    path: str | Path,
    repo: str,
    known: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
    *,
    agents: AgentRules | None = None,
) -> GitBatch:
    """Read the commits of the git repository at ``path`` not reachable from ``known``.

    ``repo`` is the repository's id in the canonical format (the ``repo`` column). ``known``
    are commit shas already read (the previous run's ``tips``); those that no longer exist are
    ignored. ``progress`` is called with the number of commits read so far, every
    :data:`PROGRESS_EVERY` commits and once at the end.

    Raises :class:`~shipwise.errors.InputError` when ``path`` is not a git repository or an
    object the history needs is missing (a shallow or partial clone, a corrupt repository).
    """
    repository = open_repository(path)
    try:
        with _fast_object_reads():
            tips, tags = _read_refs(repository, repo)
            commits = _read_commits(repository, repo, set(tips.values()), known, progress,
                                    agents or AgentRules.of(AgentSettings()))
    except (pygit2.GitError, KeyError) as exc:  # KeyError: an object the history names is missing
        raise InputError(
            f"Cannot read the history of git repository {path}: {exc}",
            hint="The repository may be shallow, partial or damaged: run `git fsck` there, "
            "or read a full clone (`git fetch --unshallow`).",
        ) from exc
    finally:
        repository.free()
    return GitBatch(commits=commits, tags=tags, tips=tips)


def open_repository(path: str | Path) -> pygit2.Repository:
    """Open the repository at ``path`` (a working tree, its ``.git``, or a bare repository).

    Parent directories are not searched: a directory inside some other repository is not that
    repository.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p} does not exist.", hint=_NOT_A_REPO_HINT)
    try:
        return pygit2.Repository(str(p), RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        text = str(exc)
        if "owned by" in text or "ownership" in text:
            raise InputError(
                f"{p} is a git repository owned by another user: {text}",
                hint=f"Trust it with `git config --global --add safe.directory {p.resolve()}` "
                "or run as its owner.",
            ) from exc
        raise InputError(f"{p} is not a git repository ({text}).", hint=_NOT_A_REPO_HINT) from exc


_settings_lock = threading.Lock()
_active_reads = 0


@contextlib.contextmanager
def _fast_object_reads() -> Iterator[None]:
    """Switch libgit2's strict hash verification off while at least one read is running."""
    global _active_reads
    with _settings_lock:
        if _active_reads == 0:
            pygit2.settings.enable_strict_hash_verification(False)
        _active_reads += 1
    try:
        yield
    finally:
        with _settings_lock:
            _active_reads -= 1
            if _active_reads == 0:
                pygit2.settings.enable_strict_hash_verification(True)


def _read_refs(repository: pygit2.Repository, repo: str) -> tuple[dict[str, str], pa.Table]:
    """The tips to walk (ref name -> commit sha) and the table of tags."""
    tips: dict[str, str] = {}
    names: list[str] = []
    shas: list[str] = []
    tagged_at: list[int | None] = []
    taggers: list[str | None] = []
    for ref in repository.references.iterator():
        name = ref.name
        if not name.startswith(WALKED_PREFIXES) or ref.type != ReferenceType.DIRECT:
            continue  # symbolic refs name another ref, which is walked itself
        target = repository.get(ref.target)
        if target is None:
            continue  # a dangling ref
        try:
            commit = target.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError, KeyError):
            continue  # a tag of a tree or a blob: no history
        sha = str(commit.id)
        tips[name] = sha
        if name.startswith("refs/tags/"):
            names.append(name.removeprefix("refs/tags/"))
            shas.append(sha)
            tagger = target.tagger if isinstance(target, pygit2.Tag) else None
            if tagger is None:
                tagged_at.append(None)
                taggers.append(None)
            else:
                tagged_at.append(epoch_micros(tagger.time))
                taggers.append(person_id(tagger.name, tagger.email))
    if repository.head_is_detached:
        head = repository.get(repository.head.target)
        if head is not None and head.type == ObjectType.COMMIT:
            tips["HEAD"] = str(head.id)
    tags = pa.table(
        [
            pa.array([repo] * len(names), pa.string()),
            pa.array(names, pa.string()),
            pa.array(shas, pa.string()),
            pa.array(tagged_at, pa.int64()).cast(INSTANT),
            pa.array(taggers, pa.string()),
        ],
        schema=TAG_SCHEMA,
    )
    return tips, tags


def _read_commits(
    repository: pygit2.Repository,
    repo: str,
    tips: set[str],
    known: Iterable[str],
    progress: Callable[[int], None] | None,
    agents: AgentRules,
) -> pa.Table:
    walker = repository.walk(None, SortMode.TIME)
    for sha in sorted(tips):
        walker.push(pygit2.Oid(hex=sha))
    for sha in known:
        oid = _existing_commit(repository, sha)
        if oid is not None:
            walker.hide(oid)

    shas: list[str] = []
    authors: list[str | None] = []
    authored: list[int | None] = []
    committed: list[int | None] = []
    additions: list[int] = []
    deletions: list[int] = []
    files: list[int] = []
    parents: list[list[str]] = []
    kinds: list[str | None] = []
    names: list[str | None] = []
    n = 0
    for commit in walker:
        parent_ids = commit.parent_ids
        if len(parent_ids) == 1:
            diff = repository[parent_ids[0]].tree.diff_to_tree(commit.tree, context_lines=0)
        elif not parent_ids:
            diff = commit.tree.diff_to_tree(context_lines=0, swap=True)
        else:
            diff = None  # a merge: see the module docstring
        if diff is None:
            additions.append(0)
            deletions.append(0)
            files.append(0)
        else:
            stats = diff.stats
            additions.append(stats.insertions)
            deletions.append(stats.deletions)
            files.append(stats.files_changed)
        author = commit.author
        shas.append(str(commit.id))
        who = person_id(author.name, author.email)
        authors.append(who)
        kind, agent = agents.classify(who, message=commit.message)
        if kind is None and author.name and author.email:  # an agent account named by its name
            kind, agent = agents.classify(author.name)
            kind = kind if kind == "agent" else None
        kinds.append(kind)
        names.append(agent)
        authored.append(epoch_micros(author.time))
        committed.append(epoch_micros(commit.commit_time))
        parents.append([str(p) for p in parent_ids])
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
    if progress is not None:
        progress(n)

    return pa.table(
        [
            pa.array(shas, pa.string()),
            pa.array([repo] * n, pa.string()),
            pa.array(authors, pa.string()),
            pa.array(authored, pa.int64()).cast(INSTANT),
            pa.array(committed, pa.int64()).cast(INSTANT),
            pa.array(additions, pa.int64()),
            pa.array(deletions, pa.int64()),
            pa.array(files, pa.int64()),
            pa.array(parents, pa.list_(pa.string())),
            pa.array(kinds, pa.string()),
            pa.array(names, pa.string()),
        ],
        schema=COMMIT_SCHEMA,
    )


def _existing_commit(repository: pygit2.Repository, sha: str) -> pygit2.Oid | None:
    """The id of commit ``sha`` if the repository has it (a rewritten branch's old tip may be gone)."""
    try:
        obj = repository.get(pygit2.Oid(hex=sha))  # full shas only: no prefix guessing
    except (ValueError, KeyError, TypeError, pygit2.GitError):
        return None
    if obj is None or obj.type != ObjectType.COMMIT:
        return None
    return obj.id
