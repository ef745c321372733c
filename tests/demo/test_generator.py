"""The demo organisation: shape, contract, consistency and the story its numbers tell.

The contract (types, ids, references, spans, determinism) is checked in the quick tier; the
demo's sizes, scale and story figures are ``slow`` (they need the full demo)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shipwise.demo.generator import DemoOrg, generate
from shipwise.domain.schema import RECORD_TYPES, Kind

ARROW_TYPE = {
    Kind.TEXT: pa.string(),
    Kind.INT: pa.int64(),
    Kind.NUMBER: pa.float64(),
    Kind.BOOL: pa.bool_(),
    Kind.INSTANT: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
    Kind.MONTH: pa.string(),
    Kind.TEXT_LIST: pa.list_(pa.string()),
    Kind.OBJECT: pa.string(),
    Kind.PERSON: pa.string(),
}


@pytest.fixture(scope="module")
def demo() -> DemoOrg:
    return generate()


@pytest.fixture(scope="module")
def db(demo: DemoOrg) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, table in demo.tables.items():
        con.register(f"t_{name}", table)
    con.execute(
        "create table svc as select s.id sid, t.id tid, t.delivery_unit unit "
        "from t_service s join t_team t on s.team = t.id"
    )
    return con


def row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    r = con.execute(sql).fetchone()
    assert r is not None
    return r


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return row(con, sql)[0]


def qlabel(col: str) -> str:
    return f"strftime({col}, '%Y') || '-Q' || ((month({col}) - 1) // 3 + 1)"


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_same_tables() -> None:
    a, b = generate(seed=3, scale=0.3), generate(seed=3, scale=0.3)
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.story == b.story
    c = generate(seed=4, scale=0.3)
    assert not c.tables["commit"].equals(a.tables["commit"])


@pytest.mark.slow
def test_scale_multiplies_volume(demo: DemoOrg) -> None:
    small = generate(scale=0.25)
    assert small.tables["team"].num_rows == demo.tables["team"].num_rows
    # SLI rows follow the SLOs and the time grid, not the activity
    assert small.tables["sli"].num_rows == demo.tables["sli"].num_rows
    activity = lambda d: d.event_count() - d.tables["sli"].num_rows  # noqa: E731
    assert 0.15 < activity(small) / activity(demo) < 0.45
    bigger = generate(scale=2.0, quarters=6)
    assert bigger.tables["team"].num_rows == 2 * demo.tables["team"].num_rows
    assert bigger.tables["org_unit"].num_rows > demo.tables["org_unit"].num_rows


# --- sizes and contract ---------------------------------------------------------------------


@pytest.mark.slow
def test_sizes(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    t = demo.tables
    assert 100_000 <= demo.event_count() <= 400_000
    assert demo.event_count() == sum(x.num_rows for x in t.values())
    assert t["org_unit"].num_rows >= 3
    assert t["team"].num_rows >= 12
    assert t["service"].num_rows >= 40
    humans = one(db, "select count(distinct id) from t_person where not bot")
    assert 220 <= humans <= 290
    bots = db.execute("select distinct id from t_person where bot").fetchall()
    assert len(bots) >= 3 and all(b[0].endswith("[bot]") for b in bots)
    units = set(t["team"].column("delivery_unit").to_pylist())
    assert units == {"deployments", "pull_requests", "commits"}
    assert one(db, "select count(*) from (select id from t_person group by id having count(*) > 1)") > 0
    for a in t["team"].column("attributes").to_pylist():
        assert set(json.loads(a)) >= {"team_type", "location", "timezone", "working_arrangement"}
    assert one(db, "select count(distinct month) from t_cost") == 24
    assert one(db, "select count(distinct team || month) from t_headcount") == 24 * t["team"].num_rows
    assert one(db, "select min(authored_at)::date from t_commit") >= dt.date(2024, 10, 1)
    assert one(db, "select max(committed_at) from t_commit") < dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert demo.story["start"] == dt.date(2024, 10, 1) and demo.story["end"] == dt.date(2026, 9, 30)


def test_columns_and_types_follow_the_schema(demo: DemoOrg) -> None:
    assert set(demo.tables) == {rt.name for rt in RECORD_TYPES}
    for rt in RECORD_TYPES:
        table = demo.tables[rt.name]
        assert table.column_names == [f.name for f in rt.fields], rt.name
        for f in rt.fields:
            col = table.column(f.name)
            assert col.type == ARROW_TYPE[f.kind], (rt.name, f.name, col.type)
            if f.required:
                assert col.null_count == 0, (rt.name, f.name)
            if f.choices:
                assert set(pc.unique(col.drop_null()).to_pylist()) <= set(f.choices), (rt.name, f.name)
            if f.minimum is not None and len(col.drop_null()):
                assert pc.min(col).as_py() >= f.minimum, (rt.name, f.name)
            if f.maximum is not None and len(col.drop_null()):
                assert pc.max(col).as_py() <= f.maximum, (rt.name, f.name)
        if rt.name == "cost":
            assert set(table.column("currency").to_pylist()) == {"USD"}
        key = pc.binary_join_element_wise(*[table.column(k).cast(pa.string()) for k in rt.key], "\x1f")
        assert pc.count_distinct(key).as_py() == table.num_rows, f"{rt.name} key not unique"


def test_ids(demo: DemoOrg) -> None:
    shas = demo.tables["commit"].column("sha")
    assert pc.all(pc.match_substring_regex(shas, "^[0-9a-f]{40}$")).as_py()
    for name in ("deployment", "incident", "page", "pull_request"):
        ids = demo.tables[name].column("id")
        assert pc.count_distinct(ids).as_py() == len(ids)


# --- consistency ------------------------------------------------------------------------------


REFERENCES = [
    ("t_team", "org_unit", "t_org_unit", "id"),
    ("t_org_unit", "parent", "t_org_unit", "id"),
    ("t_service", "team", "t_team", "id"),
    ("t_person", "team", "t_team", "id"),
    ("t_commit", "repo", "t_service", "id"),
    ("t_pull_request", "repo", "t_service", "id"),
    ("t_deployment", "service", "t_service", "id"),
    ("t_deployment", "remediates", "t_incident", "id"),
    ("t_incident", "service", "t_service", "id"),
    ("t_incident", "caused_by", "t_deployment", "id"),
    ("t_page", "team", "t_team", "id"),
    ("t_page", "person", "t_person", "id"),
    ("t_commit", "author", "t_person", "id"),
    ("t_pull_request", "author", "t_person", "id"),
    ("t_cost", "team", "t_team", "id"),
    ("t_headcount", "team", "t_team", "id"),
    ("t_slo", "service", "t_service", "id"),
    ("t_tag", "repo", "t_service", "id"),
    ("t_tag", "sha", "t_commit", "sha"),
    ("t_tag", "tagger", "t_person", "id"),
    ("t_sli", "slo", "t_slo", "id"),
    ("t_ticket_status", "team", "t_team", "id"),
    ("t_ticket_status", "blocked_on", "t_team", "id"),
]


@pytest.mark.parametrize(("table", "column", "target", "key"), REFERENCES)
def test_references_exist(db: duckdb.DuckDBPyConnection, table: str, column: str, target: str, key: str) -> None:
    missing = one(db, f"select count(*) from {table} a where a.{column} is not null and a.{column} not in (select {key} from {target})")
    assert missing == 0


def test_list_references_exist(db: duckdb.DuckDBPyConnection) -> None:
    for table in ("t_deployment", "t_pull_request"):
        missing = one(db, f"select count(*) from (select unnest(commits) sha from {table}) where sha not in (select sha from t_commit)")
        assert missing == 0, table
    assert one(db, "select count(*) from (select unnest(teams) t from t_investment) where t not in (select id from t_team)") == 0
    # a deployment ships commits of its own service's repository
    assert one(db, "select count(*) from t_deployment d, unnest(d.commits) u(sha) join t_commit c on c.sha = u.sha where c.repo <> d.service") == 0
    assert one(db, "select count(*) from t_pull_request p, unnest(p.commits) u(sha) join t_commit c on c.sha = u.sha where c.repo <> p.repo") == 0


SPANS = [
    ("t_person", "since", "until"),
    ("t_commit", "authored_at", "committed_at"),
    ("t_pull_request", "first_commit_at", "created_at"),
    ("t_pull_request", "created_at", "first_review_at"),
    ("t_pull_request", "first_commit_at", "merged_at"),
    ("t_pull_request", "created_at", "merged_at"),
    ("t_pull_request", "created_at", "closed_at"),
    ("t_pull_request", "merged_at", "closed_at"),
    ("t_deployment", "started_at", "finished_at"),
    ("t_incident", "opened_at", "resolved_at"),
]


@pytest.mark.parametrize(("table", "start", "end"), SPANS)
def test_spans_are_ordered(db: duckdb.DuckDBPyConnection, table: str, start: str, end: str) -> None:
    assert one(db, f"select count(*) from {table} where {start} > {end}") == 0


def test_pull_request_commits_precede_merge(db: duckdb.DuckDBPyConnection) -> None:
    bad = one(db, """select count(*) from t_pull_request p, unnest(p.commits) u(sha) join t_commit c on c.sha = u.sha
                     where p.merged_at is not null and (c.committed_at > p.merged_at or c.authored_at < p.first_commit_at)""")
    assert bad == 0
    # most pull requests are merged, some closed unmerged (abandoned ones by a stale bot), and
    # a few still open — not an ever-growing pile (work in progress stays flat)
    merged, closed, open_ = row(db, """select count(*) filter (where merged_at is not null),
        count(*) filter (where merged_at is null and closed_at is not null),
        count(*) filter (where closed_at is null) from t_pull_request""")
    assert merged > 5 * closed > 0 and 0 < open_ < 0.02 * merged


def test_every_merged_commit_is_shipped(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""create or replace temp table merged as
        select c.sha, c.repo, coalesce(p.merged_at, c.committed_at) merged_at
        from t_commit c left join (select unnest(commits) sha, merged_at from t_pull_request) p on p.sha = c.sha
        where p.merged_at is not null or c.sha not in (select unnest(commits) from t_pull_request)""")
    db.execute("""create or replace temp table shipped as
        select u.sha, min(d.started_at) first_at, arg_min(d.version, d.started_at) version from t_deployment d, unnest(d.commits) u(sha)
        where d.environment = 'production' and d.status = 'success' group by 1""")
    # a commit merged a day before its service's last successful production deployment is shipped
    unshipped = one(db, """select count(*) from merged m
        join (select service, max(started_at) last from t_deployment where environment = 'production'
              and status = 'success' and kind <> 'rollback' group by 1) l on l.service = m.repo
        where m.merged_at < l.last - interval 1 day and m.sha not in (select sha from shipped)""")
    assert unshipped == 0
    assert one(db, "select count(*) from shipped s join merged m using (sha) where m.merged_at > s.first_at") == 0
    # ... by the first successful production release built after the merge (a release starts
    # with its staging deployment; one without staging is built shortly before it starts)
    db.execute("""create or replace temp table releases as select service, version, min(started_at) built
        from t_deployment where kind <> 'rollback' group by all
        having bool_or(environment = 'production' and status = 'success')""")
    skipped = one(db, """select avg(case when exists (select 1 from releases r join releases x
        on x.service = r.service and x.version = s.version where r.service = m.repo
        and r.built > m.merged_at + interval 2 hour and r.built < x.built) then 1 else 0 end)
        from shipped s join merged m using (sha)""")
    assert skipped < 0.002
    assert one(db, "select count(*) from t_deployment where environment = 'staging' and commits is not null") == 0


@pytest.mark.slow
def test_deployment_story_elements(db: duckdb.DuckDBPyConnection) -> None:
    q = lambda sql: one(db, sql)  # noqa: E731
    assert q("select count(*) from t_deployment where kind = 'hotfix' and remediates is null") == 0
    assert q("select count(*) from t_deployment where kind = 'hotfix'") > 20
    assert q("select count(*) from t_deployment where kind = 'rollback'") > 20
    assert q("select count(*) from t_deployment where status = 'rolled_back'") > 20
    # failures in staging that never reached production
    assert q("""select count(*) from t_deployment s where s.environment = 'staging' and s.status = 'failure'
                and not exists (select 1 from t_deployment p where p.environment = 'production'
                                and p.service = s.service and p.version = s.version)""") > 20
    # multi-region releases: the same version in several regions
    assert q("""select count(*) from (select service, version from t_deployment where environment = 'production'
                and kind <> 'rollback' group by all having count(distinct region) > 1)""") > 100
    # hotfixes start after the incident they remediate opened
    assert q("select count(*) from t_deployment d join t_incident i on i.id = d.remediates where d.started_at < i.opened_at") == 0
    assert q("select count(*) from t_incident i join t_deployment d on d.id = i.caused_by where i.opened_at < d.finished_at") == 0
    assert q("select count(*) from t_incident where caused_by is not null") > 50
    assert q("select count(*) from t_incident where not human_actioned") > 20
    assert q("select count(*) from t_incident where resolved_at is null") > 0
    assert q("select avg((resolved_at is not null)::int) from t_incident") > 0.95
    assert q("select count(distinct severity) from t_incident") == 5


@pytest.mark.slow
def test_pages_follow_rotations(db: duckdb.DuckDBPyConnection, demo: DemoOrg) -> None:
    # every page goes to a member of the paged team at that moment
    bad = one(db, """select count(*) from t_page g where not exists (select 1 from t_person p where p.id = g.person
        and p.team = g.team and p.since <= g."at"::date and (p.until is null or p.until >= g."at"::date))""")
    assert bad == 0
    night = one(db, """select avg((hour(g."at") < 6 or hour(g."at") >= 22)::int) from t_page g""")
    assert 0.1 < night < 0.5
    assert one(db, "select count(distinct urgency) from t_page") == 2
    # one person per team per week holds the pager (teams with a small rota hand the rest of
    # their pages to a daily triage rotation)
    small_rota = ", ".join(f"'{t}'" for t in demo.story["concentrated_oncall_teams"])  # type: ignore[union-attr]
    per_week = one(db, f"""select max(n) from (select team, date_trunc('week', g."at" - interval 10 hour) w,
        count(distinct person) n from t_page g where team not in ({small_rota}) group by all)""")
    assert per_week <= 3


@pytest.mark.slow
def test_working_rhythm(db: duckdb.DuckDBPyConnection) -> None:
    weekday = one(db, "select avg((isodow(authored_at) <= 5)::int) from t_commit c join t_person p on p.id = c.author where not p.bot")
    assert weekday > 0.9
    # the late-December week is quiet
    xmas = one(db, "select count(*) from t_commit where authored_at >= '2025-12-24' and authored_at < '2025-12-31'")
    usual = one(db, "select count(*) / 8.0 from t_commit where authored_at >= '2025-10-27' and authored_at < '2025-12-22'")
    assert xmas < 0.25 * usual
    assert one(db, "select count(*) from t_commit c join t_person p on p.id = c.author where p.bot") > 100
    assert one(db, "select count(*) from t_pull_request c join t_person p on p.id = c.author where p.bot") > 100
    # lead times are heavy-tailed
    p50, p95 = row(db, """select quantile_cont(h, 0.5), quantile_cont(h, 0.95) from (
        select epoch(d.finished_at - c.committed_at) / 3600 h from t_deployment d, unnest(d.commits) u(sha)
        join t_commit c on c.sha = u.sha where d.environment = 'production' and d.status = 'success')""")
    assert p95 > 3 * p50


@pytest.mark.slow
def test_slis(db: duckdb.DuckDBPyConnection, demo: DemoOrg) -> None:
    assert one(db, "select count(*) from t_sli where good > total") == 0
    assert one(db, "select count(distinct slo) from t_sli") == demo.tables["slo"].num_rows
    sfq = demo.story["speed_for_quality_team"]
    assert one(db, f"select count(*) from t_slo s join svc v on v.sid = s.service where v.tid = '{sfq}'") > 0


@pytest.mark.slow
def test_sli_history_is_coarse_and_the_last_week_fine(db: duckdb.DuckDBPyConnection) -> None:
    """6-hour intervals, then 5-minute intervals over the last 7 days; each row counts the
    interval ending at `at`, the coarse series ends where the fine one begins, nothing overlaps."""
    fine_from = dt.datetime(2026, 9, 24, tzinfo=dt.UTC)
    gaps = db.execute("""select "at" >= timestamptz '2026-09-24 00:05:00+00' fine,
        min(gap), max(gap), count(*) from (
        select "at", epoch("at" - lag("at") over (partition by slo order by "at")) gap from t_sli)
        where gap is not null group by 1 order by 1""").fetchall()
    assert [(g[0], g[1], g[2]) for g in gaps] == [(False, 6 * 3600, 6 * 3600), (True, 300, 300)]
    per_slo = db.execute("""select slo, max("at") filter (where epoch("at") % 21600 = 0 and "at" <= timestamptz '2026-09-24 00:00:00+00'),
        min("at") filter (where "at" > timestamptz '2026-09-24 00:00:00+00'), max("at"),
        count(*) filter (where "at" > timestamptz '2026-09-24 00:00:00+00') from t_sli group by 1""").fetchall()
    for _slo, coarse_end, fine_start, last, fine_rows in per_slo:
        assert coarse_end == fine_from
        assert fine_start == fine_from + dt.timedelta(minutes=5)
        assert last == dt.datetime(2026, 9, 30, 23, 55, tzinfo=dt.UTC)  # no interval ends after the data
        assert fine_rows == 7 * 288 - 1


def burn_states(db: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Per SLO at the latest interval end: error budget remaining and burn rates by window."""
    windows = {"5m": 5, "30m": 30, "1h": 60, "6h": 360, "3d": 4320}

    def burn(minutes: int) -> str:
        cond = f'x."at" > e.t - interval {minutes} minute'
        return f"sum(x.total - x.good) filter (where {cond}) / sum(x.total) filter (where {cond}) / (1 - s.objective)"

    cols = ", ".join(f'{burn(m)} "{k}"' for k, m in windows.items())
    rows = db.execute(f"""with e as (select max("at") t from t_sli)
        select s.id, 1 - sum(x.total - x.good) filter (where x."at" > e.t - to_days(s.window_days))
               / ((1 - s.objective) * sum(x.total) filter (where x."at" > e.t - to_days(s.window_days))) remaining, {cols}
        from t_slo s join t_sli x on x.slo = s.id cross join e group by s.id, s.objective, e.t""").fetchall()
    return {r[0]: dict(zip(["remaining", *windows], r[1:], strict=True)) for r in rows}


@pytest.mark.slow
def test_error_budgets_at_the_end(db: duckdb.DuckDBPyConnection, demo: DemoOrg) -> None:
    """One SLO burns fast right now (a sev2 on its service), one burns slowly with its budget
    nearly spent, the rest are healthy: no alert pair of the SRE Workbook fires for them."""
    s: dict[str, Any] = demo.story
    states = burn_states(db)
    fast, slow = states.pop(s["slo_fast_burn"]), states.pop(s["slo_slow_burn"])
    assert fast["1h"] > 14.4 and fast["5m"] > 14.4, fast
    assert 0 < fast["remaining"] < 0.25, fast  # the outage weeks ago had already cut the budget
    assert slow["3d"] > 1 and slow["6h"] > 1, slow
    assert 0 < slow["remaining"] < 0.2, slow
    assert slow["1h"] < 14.4 and not (slow["6h"] > 6 and slow["30m"] > 6)
    for slo, b in states.items():
        assert b["remaining"] > 0.3, (slo, b)
        assert not (b["1h"] > 14.4 and b["5m"] > 14.4), (slo, b)
        assert not (b["6h"] > 6 and b["30m"] > 6), (slo, b)
        assert not (b["3d"] > 1 and b["6h"] > 1), (slo, b)
    # the fast burn is an open sev2 on that service, opened in the last hour
    svc = one(db, f"select service from t_slo where id = '{s['slo_fast_burn']}'")
    assert one(db, f"""select count(*) from t_incident where service = '{svc}' and severity = 'sev2'
        and resolved_at is null and opened_at > timestamptz '2026-09-30 23:00:00+00'""") == 1
    # ... of a team that cut its releases after the outage: deployments dipped in the last weeks
    team = s["appetite_cut_team"]
    assert one(db, f"select team from t_service where id = '{svc}'") == team
    after = (s["end"] - s["appetite_cut_from"]).days + 1
    weekly = row(db, f"""select count(distinct d.service || d.version) filter (where d.started_at >= timestamptz '{s['appetite_cut_from']}') / {after} * 7,
        count(distinct d.service || d.version) filter (where d.started_at < timestamptz '{s['appetite_cut_from']}') / 8.0
        from t_deployment d join svc v on v.sid = d.service where v.tid = '{team}' and d.environment = 'production'
        and d.kind <> 'rollback' and d.started_at >= timestamptz '{s['appetite_cut_from']}' - interval 56 day""")
    assert weekly[0] < 0.7 * weekly[1], weekly


def test_services_name_their_repository(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, "select count(*) from t_service where repo is null or repo <> id") == 0
    assert one(db, "select count(*) from t_commit where repo not in (select repo from t_service)") == 0


@pytest.mark.slow
def test_team_time_zones(demo: DemoOrg) -> None:
    from zoneinfo import ZoneInfo

    from shipwise.demo.story import TIMEZONES

    for a in demo.tables["team"].column("attributes").to_pylist():
        attrs = json.loads(a)
        assert attrs["timezone"] == TIMEZONES[attrs["location"]]
        ZoneInfo(attrs["timezone"])  # a real IANA name



# --- the story --------------------------------------------------------------------------------


def deploys_per_quarter(db: duckdb.DuckDBPyConnection, team: str) -> dict[str, int]:
    rows = db.execute(f"""select {qlabel('d.started_at')} q, count(distinct d.service || d.version)
        from t_deployment d join svc v on v.sid = d.service where v.tid = '{team}'
        and d.environment = 'production' and d.kind <> 'rollback' group by 1""").fetchall()
    return dict(rows)


@pytest.mark.slow
def test_adopters_deploy_more_with_less_toil(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    s: dict[str, Any] = demo.story
    quarters: list[str] = s["quarters"]
    assert len(s["adopters"]) == 4
    assert len(set(s["adoption_quarter"].values())) >= 2  # staggered
    for team in s["adopters"]:
        adopted = quarters.index(s["adoption_quarter"][team])
        per_q = deploys_per_quarter(db, team)
        before = [per_q[q] for q in quarters[:adopted] if q != s["migration_quarter"]]
        after = [per_q[q] for q in quarters[-2:]]
        assert min(after) > 1.5 * max(before), (team, per_q)
        mi_before, mi_after = row(db, f"""select avg(manual_interventions) filter (where started_at < '{s['adoption_date'][team]}'),
            avg(manual_interventions) filter (where {qlabel('started_at')} >= '{quarters[-2]}')
            from t_deployment d join svc v on v.sid = d.service where v.tid = '{team}' and environment = 'production'""")
        assert mi_after < 0.3 * mi_before
    adopters = ", ".join(f"'{t}'" for t in s["adopters"])
    lead = dict(db.execute(f"""select {qlabel('d.started_at')} q, median(epoch(d.finished_at - c.committed_at))
        from t_deployment d, unnest(d.commits) u(sha) join t_commit c on c.sha = u.sha join svc v on v.sid = d.service
        where v.tid in ({adopters}) and d.environment = 'production' and d.status = 'success' group by 1""").fetchall())
    assert lead[quarters[-1]] < 0.75 * lead[quarters[0]]


@pytest.mark.slow
def test_speed_bought_with_quality(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    s: dict[str, Any] = demo.story
    team = s["speed_for_quality_team"]
    since = s["speed_for_quality_from"]
    per_q = deploys_per_quarter(db, team)
    quarters: list[str] = s["quarters"]
    late = [q for q in quarters if q >= since]
    early = [q for q in quarters if q < since and q != s["migration_quarter"]]
    assert len(late) == 3
    assert min(per_q[q] for q in late) > 1.5 * max(per_q[q] for q in early)
    rates = dict(db.execute(f"""select {qlabel('d.started_at')} >= '{since}', avg((status = 'rolled_back')::int)
        from t_deployment d join svc v on v.sid = d.service where v.tid = '{team}' and environment = 'production'
        and kind <> 'rollback' and {qlabel('d.started_at')} <> '{s['migration_quarter']}' group by 1""").fetchall())
    assert rates[True] > 2.5 * rates[False]
    sev = dict(db.execute(f"""select {qlabel('opened_at')} >= '{since}', count(*) / count(distinct {qlabel('opened_at')})
        from t_incident i join svc v on v.sid = i.service where v.tid = '{team}' and human_actioned
        and severity in ('sev1', 'sev2') group by 1""").fetchall())
    assert sev[True] > 3 * sev.get(False, 0.5)


@pytest.mark.slow
def test_migration_quarter_slows_everyone(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    s: dict[str, Any] = demo.story
    quarters: list[str] = s["quarters"]
    mig = s["migration_quarter"]
    i = quarters.index(mig)
    neighbours = [quarters[i - 1], quarters[i + 1]]
    per_q = dict(db.execute(f"""select {qlabel('started_at')}, count(*) from t_deployment where environment = 'production'
        group by 1""").fetchall())
    assert per_q[mig] < 0.85 * min(per_q[q] for q in neighbours)
    inc = dict(db.execute(f"select {qlabel('opened_at')}, count(*) from t_incident group by 1").fetchall())
    assert inc[mig] > 1.3 * max(inc[q] for q in neighbours)
    assert one(db, "select count(*) from t_investment where kind = 'managed-services'") == 1


@pytest.mark.slow
def test_cost_to_serve_improves_through_the_adopters(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    """Cost to serve = team cost in a quarter / units delivered; the organisation's year-over-year
    improvement is the cost-weighted roll-up of each team's improvement against itself."""
    db.execute(f"""create or replace temp table units as select tid, q, sum(n) n from (
        select v.tid, {qlabel('d.started_at')} q, count(distinct d.service || d.version) n from t_deployment d
          join svc v on v.sid = d.service where v.unit = 'deployments' and d.environment = 'production'
          and d.kind <> 'rollback' group by all
        union all
        select v.tid, {qlabel('p.merged_at')}, count(*) from t_pull_request p join svc v on v.sid = p.repo
          where v.unit = 'pull_requests' and p.merged_at is not null group by all
        union all
        select v.tid, {qlabel('c.committed_at')}, count(*) from t_commit c join svc v on v.sid = c.repo
          where v.unit = 'commits' group by all) group by all""")
    db.execute("""create or replace temp table cts as select u.tid, u.q, c.cost, c.cost / u.n cts from units u
        join (select team tid, substr(month, 1, 4) || '-Q' || ((substr(month, 6, 2)::int - 1) // 3 + 1) q,
              sum(amount) cost from t_cost group by all) c using (tid, q)""")
    story: dict[str, Any] = demo.story
    quarters: list[str] = story["quarters"]
    rows = db.execute(f"""select a.tid, a.cost, 1 - a.cts / b.cts from cts a join cts b on a.tid = b.tid
        and a.q = '{quarters[-1]}' and b.q = '{quarters[-5]}'""").fetchall()
    assert len(rows) == demo.tables["team"].num_rows

    def rollup(teams: set[str] | None = None) -> float:
        sel = [r for r in rows if teams is None or r[0] in teams]
        return sum(r[1] * r[2] for r in sel) / sum(r[1] for r in sel)

    org = rollup()
    assert 0.10 <= org <= 0.22, org
    assert rollup(set(story["adopters"])) > 0.3
    steady = rollup(set(story["non_adopters"]))
    assert abs(steady) < 0.05, steady
    # adopters' cost stays roughly flat while their units rise
    adopters = ", ".join(f"'{t}'" for t in story["adopters"])
    ratio = one(db, f"""select sum(cost) filter (where q = '{quarters[-1]}') / sum(cost) filter (where q = '{quarters[-5]}')
        from cts where tid in ({adopters})""")
    assert 0.95 < ratio < 1.1


@pytest.mark.slow
def test_investments_name_the_adopters(demo: DemoOrg) -> None:
    story: dict[str, Any] = demo.story
    inv = demo.tables["investment"].to_pylist()
    cicd = [i for i in inv if i["kind"] == "ci-cd"]
    assert sorted(t for i in cicd for t in i["teams"]) == sorted(story["adopters"])
    for i in cicd:
        for t in i["teams"]:
            assert i["started_at"].date() == story["adoption_date"][t]
    assert any(i["name"] == "AI coding assistant" for i in inv)


def team_people(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(db.execute("select team, count(distinct id) from t_person where not bot group by 1").fetchall())


@pytest.mark.slow
def test_one_small_team(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    """Exactly one team has fewer than 5 people (its people-derived figures get suppressed);
    its pages, pull requests and costs still flow."""
    people = team_people(db)
    small = [t for t, n in people.items() if n < 5]
    assert small == demo.story["small_teams"] == ["observability"]
    assert people["observability"] == 4
    assert min(n for t, n in people.items() if t not in small) >= 7
    for table, col in (("t_page", "team"), ("t_cost", "team"), ("t_headcount", "team")):
        assert one(db, f"select count(*) from {table} where {col} = 'observability'") > 0
    assert one(db, "select count(*) from t_pull_request p join svc v on v.sid = p.repo where v.tid = 'observability'") > 100


@pytest.mark.slow
def test_pages_in_local_time(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    """Pages in each team's time zone: mostly working hours, some evenings, weekends and sleep
    hours; the team with more incidents is woken more; one small rota carries most pages."""
    db.execute("""create or replace temp table local_page as select g.team, g.person,
        timezone(json_extract_string(t.attributes, '$.timezone'), g."at") l, g."at"
        from t_page g join t_team t on t.id = g.team""")
    work, evening, weekend, sleep = row(db, """select avg((isodow(l) <= 5 and hour(l) >= 9 and hour(l) < 18)::int),
        avg((isodow(l) <= 5 and hour(l) >= 18 and hour(l) < 23)::int), avg((isodow(l) > 5)::int),
        avg((hour(l) >= 23 or hour(l) < 7)::int) from local_page""")
    assert 0.4 < work < 0.7 and evening > 0.08 and 0.1 < weekend < 0.3 and 0.05 < sleep < 0.25
    sleep_share = dict(db.execute("select team, avg((hour(l) >= 23 or hour(l) < 7)::int) from local_page group by 1").fetchall())
    sfq = demo.story["speed_for_quality_team"]
    others = sorted(v for t, v in sleep_share.items() if t != sfq)
    assert sleep_share[sfq] > 1.4 * others[len(others) // 2]
    # on-call concentration: the share of a quarter's pages carried by its busiest fifth of responders
    conc = dict(db.execute("""with n as (select team, date_trunc('quarter', "at") q, person, count(*) n from t_page group by all),
        r as (select *, row_number() over (partition by team, q order by n desc) rn, count(*) over (partition by team, q) k from n)
        select team, avg(s) from (select team, q, sum(n) filter (where rn <= greatest(1, ceil(k / 5))) / sum(n) s
        from r group by all) group by 1""").fetchall())
    concentrated = demo.story["concentrated_oncall_teams"]
    assert concentrated == ["data-platform"]
    assert conc["data-platform"] > 0.65
    assert max(v for t, v in conc.items() if t not in concentrated) < 0.5


@pytest.mark.slow
def test_ticket_status(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    """Tickets move todo -> in progress -> (blocked on another team -> in progress)* -> done."""
    s: dict[str, Any] = demo.story
    teams = set(s["ticket_teams"])
    assert {"mobile-app", "web-storefront", "customer-care"} <= teams and len(teams) >= 6
    assert one(db, "select count(distinct team) from t_ticket_status") == len(teams)
    assert 2_000 <= one(db, "select count(distinct ticket) from t_ticket_status") <= 8_000
    db.execute("""create or replace temp table spell as select *,
        lag(category) over (partition by ticket order by "at") prev,
        lead(category) over (partition by ticket order by "at") next,
        row_number() over (partition by ticket order by "at") i from t_ticket_status""")
    assert one(db, "select count(*) from spell where i = 1 and category <> 'todo'") == 0
    assert one(db, "select count(*) from spell where category = 'done' and next is not null") == 0
    assert one(db, "select count(*) from spell where category = 'blocked' and prev not in ('in_progress')") == 0
    assert one(db, "select count(*) from spell where category = 'blocked' and next is not null and next <> 'in_progress'") == 0
    assert one(db, "select count(*) from (select ticket from t_ticket_status group by 1 having count(distinct team) > 1)") == 0
    # blocked statuses name the team waited on, in the tracker's words
    assert one(db, "select count(*) from t_ticket_status where (category = 'blocked') <> (blocked_on is not null)") == 0
    assert one(db, "select count(*) from t_ticket_status where blocked_on = team") == 0
    assert one(db, """select count(*) from t_ticket_status s join t_team t on t.id = s.blocked_on
        where s.status <> 'Waiting for ' || t.name""") == 0
    assert one(db, "select count(*) from t_ticket_status where status = 'Waiting for Data Platform'") > 20
    assert one(db, "select count(*) from t_ticket_status where category = 'done'") > 0.8 * one(db, "select count(distinct ticket) from t_ticket_status")
    # some teams block more than others; waiting on the platform teams peaks in the migration
    share = dict(db.execute("""select team, count(distinct ticket) filter (where category = 'blocked')
        / count(distinct ticket) from t_ticket_status group by 1""").fetchall())
    assert max(share.values()) > 1.8 * min(share.values())
    by_q = dict(db.execute(f"""select {qlabel('"at"')}, count(distinct ticket) filter (where category = 'blocked')
        / count(distinct ticket) filter (where category = 'todo') from t_ticket_status group by 1""").fetchall())
    mig = s["migration_quarter"]
    assert by_q[mig] > 1.4 * max(v for q, v in by_q.items() if q != mig)


@pytest.mark.slow
def test_cross_team_pull_requests(demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    """A few pull requests of stream-aligned teams go to another team's repository: they wait
    longer for a first review (some over 48 h, a few still unreviewed) and ship with the owner."""
    db.execute("""create or replace temp table authored as select p.*, v.tid repo_team, m.team author_team
        from t_pull_request p join svc v on v.sid = p.repo
        join t_person m on m.id = p.author and not m.bot and m.since <= p.created_at::date
         and (m.until is null or m.until >= p.created_at::date)""")
    share = dict(db.execute("""select a.author_team, avg((a.repo_team <> a.author_team)::int) from authored a
        join t_team t on t.id = a.author_team where json_extract_string(t.attributes, '$.team_type') = 'stream-aligned'
        group by 1""").fetchall())
    assert len(share) >= 6 and all(0.03 < v < 0.08 for v in share.values()), share
    assert set(demo.story["cross_team_repos_of"]) == set(one(db, """select list(distinct repo_team) from authored
        where repo_team <> author_team"""))
    assert one(db, """select count(*) from authored a join t_team t on t.id = a.author_team
        where a.repo_team <> a.author_team and json_extract_string(t.attributes, '$.team_type') <> 'stream-aligned'""") == 0
    cross, own = row(db, """select median(epoch(first_review_at - created_at)) filter (where repo_team <> author_team),
        median(epoch(first_review_at - created_at)) filter (where repo_team = author_team) from authored""")
    assert cross > 3 * own
    end = "timestamptz '2026-10-01 00:00:00+00'"
    stalled, unreviewed = row(db, f"""select count(*) filter (where epoch(coalesce(first_review_at, {end}) - created_at) > 48 * 3600),
        count(*) filter (where first_review_at is null and closed_at is null and epoch({end} - created_at) > 48 * 3600
                         and created_at > {end} - interval 60 day)
        from authored where repo_team <> author_team""")
    assert stalled > 100 and unreviewed > 0
    # their commits are shipped by the repository owner's deployments, never the author team's
    assert one(db, """select count(*) from authored a, unnest(a.commits) u(sha)
        join t_deployment d on list_contains(d.commits, u.sha) join svc v on v.sid = d.service
        where a.repo_team <> a.author_team and v.tid <> a.repo_team""") == 0
    assert one(db, """select count(*) from authored a, unnest(a.commits) u(sha)
        join t_deployment d on list_contains(d.commits, u.sha)
        where a.repo_team <> a.author_team and d.environment = 'production' and d.status = 'success'""") > 100
