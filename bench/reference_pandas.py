"""DORA metrics v1 in plain pandas: the reference peer of :mod:`shipwise.metrics.dora`.

This is what a competent analyst would write from the written definitions (the docstring of
``shipwise/metrics/dora.py``) given the store's tables as DataFrames: merges, boolean masks,
``groupby`` aggregations and one ``merge_asof`` -- no Python loop over events, and no tricks in
either direction. It is used two ways:

* by ``bench/bench_dora.py`` as the peer shipwise is timed against, and
* by ``tests/bench/test_reference_pandas.py`` to keep shipwise's SQL and this implementation
  agreeing on every row (so the benchmark compares like with like).

Usage::

    tables = load_tables(con)                      # DuckDB connection to a shipwise store
    facts = prepare_facts(tables)                  # entity- and grain-independent facts
    frame = dora_frame(facts, "quarter", "team")   # one row per (team, quarter)

``dora_frame`` returns the columns of :data:`shipwise.metrics.dora.COLUMNS` (the raw counts and
percentiles, after ``entity``, ``period``) plus one column per DORA metric id and one
``change.<metric id>`` column with the difference to the entity's previous period -- the same
numbers ``shipwise.app.metrics.dora_rows`` reports.

The definitions, as implemented here (each mirrors one CTE of the SQL):

* production deployments: ``lower(environment) == 'production'`` whose service is known (the
  team is the service's owner); a deployment belongs to the UTC day of its ``finished_at``;
* normalised deployment key: ``service@version`` when a version is given, else ``#id``;
* deployment frequency: normalised groups with a successful deployment, dated by their first
  successful finish; deployment days = distinct such days; both per 7-day week of the period
  (``weeks`` = days of the period inside [since, until] / 7);
* change lead time: per commit, the first successful production deployment listing it minus
  ``committed_at`` (whole seconds, as ``date_diff('second', …)``); median and p90 with linear
  interpolation over the non-negative spans whose deployment falls in the period; negative spans
  are excluded and counted;
* change fail rate: over normalised groups that reached production (``success`` or
  ``rolled_back``; instant = first such finish), the share with a rolled-back deployment or a
  reached deployment named in an incident's ``caused_by``; ``failure`` rows only count as failed
  deployment attempts (per normalised group, at its first failure);
* recovery: per failed group, restored = latest ``resolved_at`` of the incidents naming any of its
  deployments (unresolved if any is still open), else the first successful production deployment
  of the same service at or after the failure instant; median of the non-negative spans; failures
  without a restore are counted as unresolved;
* rework rate: share of the change-fail denominator with a reached deployment of kind
  ``hotfix``/``rollback`` or a ``remediates`` reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from shipwise.metrics.dora import COLUMNS as dora_columns

GRAINS = ("week", "month", "quarter")
ENTITIES = ("team", "service")

#: Raw output columns, in the order of :data:`shipwise.metrics.dora.COLUMNS`.
#: The output columns are the contract of shipwise's query; the definitions below are not shared.
COLUMNS = dora_columns
COUNT_COLUMNS = (
    "deployments",
    "deployment_days",
    "reached_production",
    "failed_deployments",
    "rework_deployments",
    "failed_attempts",
    "lead_time_commits",
    "negative_lead_time_spans",
    "recovered_failures",
    "unresolved_failures",
    "negative_recovery_spans",
)

#: metric id -> (numerator column, denominator column or None for a plain value)
METRICS: dict[str, tuple[str, str | None]] = {
    "dora.deployment_frequency": ("deployments", "weeks"),
    "dora.deployment_days_per_week": ("deployment_days", "weeks"),
    "dora.change_lead_time": ("lead_time_median_seconds", None),
    "dora.change_lead_time_p90": ("lead_time_p90_seconds", None),
    "dora.change_fail_rate": ("failed_deployments", "reached_production"),
    "dora.failed_deployment_recovery_time": ("recovery_median_seconds", None),
    "dora.rework_rate": ("rework_deployments", "reached_production"),
    "dora.failed_deployment_attempts": ("failed_attempts", None),
}

#: The columns of each store table the reference reads.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "deployment": ("id", "service", "environment", "finished_at", "status", "version", "kind",
                   "remediates"),
    "deployment_commit": ("deployment_id", "sha"),
    "commit": ("sha", "committed_at"),
    "incident": ("caused_by", "resolved_at"),
    "service": ("id", "team"),
    "team": ("id",),
    "calendar": ("day", "week", "month", "quarter"),
}


def load_tables(con: Any) -> dict[str, pd.DataFrame]:
    """Read the tables the definitions need from a DuckDB connection into pandas DataFrames."""
    out = {}
    for table, cols in TABLE_COLUMNS.items():
        select = ", ".join(f'"{c}"' for c in cols)
        out[table] = con.execute(f'SELECT {select} FROM "{table}"').df()
    return out


def _diff_seconds(start: pd.Series, end: pd.Series) -> pd.Series:
    """``end - start`` in seconds as DuckDB's ``date_diff('second', start, end)`` counts them:
    second boundaries crossed, i.e. both instants floored to the second first (NaT -> NaN)."""
    return (end.dt.floor("s") - start.dt.floor("s")).dt.total_seconds()


@dataclass
class Facts:
    """Entity- and grain-independent facts, computed once from the tables."""

    norm: pd.DataFrame  # one row per normalised deployment group
    attempts: pd.DataFrame  # one row per normalised group with a failed attempt
    recovery: pd.DataFrame  # one row per failed group, with restored_at
    lead: pd.DataFrame  # one row per deployed commit
    service: pd.DataFrame  # service -> team
    team: pd.DataFrame
    calendar: pd.DataFrame
    span: tuple[date | None, date | None]  # first/last day with a production deployment


def prepare_facts(t: dict[str, pd.DataFrame]) -> Facts:
    dep = t["deployment"]
    svc = t["service"].rename(columns={"id": "service"})[["service", "team"]]

    is_prod = dep["environment"].str.lower() == "production"
    days = dep.loc[is_prod, "finished_at"].dt.normalize()
    span = (days.min().date(), days.max().date()) if len(days) else (None, None)

    # production deployments of known services, with their team and normalised key
    prod = dep[is_prod].merge(svc, on="service", how="inner")
    prod["nkey"] = ("#" + prod["id"]).where(
        prod["version"].isna(), prod["service"] + "@" + prod["version"]
    )
    reached = prod["status"].isin(["success", "rolled_back"])
    caused = prod["id"].isin(t["incident"]["caused_by"].dropna())
    prod["success_at"] = prod["finished_at"].where(prod["status"] == "success")
    prod["reached_at"] = prod["finished_at"].where(reached)
    prod["failed"] = reached & ((prod["status"] == "rolled_back") | caused)
    prod["rework"] = reached & (
        prod["kind"].isin(["hotfix", "rollback"]) | prod["remediates"].notna()
    )

    norm = prod.groupby("nkey", sort=False).agg(
        service=("service", "min"),
        team=("team", "min"),
        first_success_at=("success_at", "min"),
        reached_at=("reached_at", "min"),
        failed=("failed", "max"),
        rework=("rework", "max"),
    ).reset_index()

    attempts = (
        prod[prod["status"] == "failure"]
        .groupby("nkey", sort=False)
        .agg(service=("service", "min"), team=("team", "min"), at=("finished_at", "min"))
        .reset_index()
    )

    # recovery: incidents caused by the group, else the service's next successful deployment
    failed = norm.loc[norm["failed"] & norm["reached_at"].notna(),
                      ["nkey", "service", "team", "reached_at"]]
    inc = t["incident"].merge(prod[["id", "nkey"]], left_on="caused_by", right_on="id")
    inc["open"] = inc["resolved_at"].isna()
    by_incident = inc.groupby("nkey").agg(
        still_open=("open", "sum"), incident_resolved_at=("resolved_at", "max")
    ).reset_index()
    successes = (
        norm.loc[norm["first_success_at"].notna(), ["service", "first_success_at", "nkey"]]
        .rename(columns={"first_success_at": "next_success_at", "nkey": "next_nkey"})
        .sort_values("next_success_at")
    )
    recovery = pd.merge_asof(
        failed.sort_values("reached_at"), successes,
        left_on="reached_at", right_on="next_success_at", by="service",
        direction="forward", allow_exact_matches=True,
    )
    # a failed version is not restored by its own success in another region: take the next one
    own = recovery["next_nkey"] == recovery["nkey"]
    if own.any():
        again = pd.merge_asof(
            recovery.loc[own, ["nkey", "service", "next_success_at"]]
            .rename(columns={"next_success_at": "own_at"}).sort_values("own_at"),
            successes.drop(columns="next_nkey"),
            left_on="own_at", right_on="next_success_at", by="service",
            direction="forward", allow_exact_matches=False,
        ).set_index("nkey")["next_success_at"]
        recovery.loc[own, "next_success_at"] = recovery.loc[own, "nkey"].map(again).to_numpy()
    recovery = recovery.drop(columns="next_nkey").merge(by_incident, on="nkey", how="left")
    from_incident = recovery["still_open"].notna()
    recovery["restored_at"] = recovery["next_success_at"].where(
        ~from_incident, recovery["incident_resolved_at"].where(recovery["still_open"] == 0)
    )
    recovery["recovery_seconds"] = _diff_seconds(recovery["reached_at"], recovery["restored_at"])

    # lead time: each commit's first successful production deployment
    ok = prod.loc[prod["status"] == "success", ["id", "service", "finished_at"]]
    first = (
        t["deployment_commit"]
        .merge(ok, left_on="deployment_id", right_on="id")
        .sort_values("finished_at", kind="stable")
        .drop_duplicates("sha")
    )
    lead = first[["sha", "service", "finished_at"]].rename(columns={"finished_at": "deployed_at"})
    lead = lead.merge(t["commit"], on="sha").merge(svc, on="service")
    lead["lead_seconds"] = _diff_seconds(lead["committed_at"], lead["deployed_at"])

    return Facts(norm, attempts, recovery, lead, svc, t["team"], t["calendar"], span)


def dora_frame(
    facts: Facts,
    grain: str = "quarter",
    entity: str = "team",
    since: date | None = None,
    until: date | None = None,
    teams: tuple[str, ...] = (),
    services: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per (entity, period) over [since, until] (default: the data span)."""
    if grain not in GRAINS or entity not in ENTITIES:
        raise ValueError(f"grain {grain!r} / entity {entity!r}")
    since = since or facts.span[0]
    until = until or facts.span[1]
    if since is None or until is None:
        return pd.DataFrame(columns=["entity", "period", *COLUMNS])

    cal = facts.calendar
    cal = cal.loc[(cal["day"] >= pd.Timestamp(since)) & (cal["day"] <= pd.Timestamp(until)),
                  ["day", grain]].rename(columns={grain: "period"})
    periods = cal.groupby("period").agg(period_start=("day", "min"), days=("day", "size"))
    periods["weeks"] = periods["days"] / 7.0
    period_of = cal.set_index("day")["period"]

    # which entities
    if entity == "team":
        ids = facts.team["id"]
        if teams:
            ids = ids[ids.isin(teams)]
        if services:
            ids = ids[ids.isin(facts.service.loc[facts.service["service"].isin(services), "team"])]
    else:
        ids = facts.service["service"]
        if teams:
            ids = ids[facts.service["team"].isin(teams)]
        if services:
            ids = ids[ids.isin(services)]

    def dated(frame: pd.DataFrame, instant: str) -> pd.DataFrame:
        """The rows whose instant falls on a day of the range, with its day and period."""
        day = frame[instant].dt.normalize()
        out = frame.assign(day=day, period=day.map(period_of))
        return out[out["period"].notna()]

    keys = [entity, "period"]
    dep = dated(facts.norm[facts.norm["first_success_at"].notna()], "first_success_at")
    df = dep.groupby(keys).agg(deployments=("nkey", "size"), deployment_days=("day", "nunique"))

    reach = dated(facts.norm[facts.norm["reached_at"].notna()], "reached_at")
    cfr = reach.groupby(keys).agg(
        reached_production=("nkey", "size"),
        failed_deployments=("failed", "sum"),
        rework_deployments=("rework", "sum"),
    )

    att = dated(facts.attempts, "at").groupby(keys).agg(failed_attempts=("nkey", "size"))

    lead = dated(facts.lead, "deployed_at")
    lead = lead.assign(nonneg=lead["lead_seconds"] >= 0, negative=lead["lead_seconds"] < 0)
    lt = lead.groupby(keys).agg(
        lead_time_commits=("nonneg", "sum"), negative_lead_time_spans=("negative", "sum")
    )
    spans = lead.loc[lead["nonneg"]].groupby(keys)["lead_seconds"]
    lt["lead_time_median_seconds"] = spans.quantile(0.5)
    lt["lead_time_p90_seconds"] = spans.quantile(0.9)

    rec = dated(facts.recovery, "reached_at")
    rec = rec.assign(
        recovered=rec["recovery_seconds"] >= 0, unresolved=rec["restored_at"].isna(),
        negative=rec["recovery_seconds"] < 0,
    )
    rt = rec.groupby(keys).agg(
        recovered_failures=("recovered", "sum"), unresolved_failures=("unresolved", "sum"),
        negative_recovery_spans=("negative", "sum"),
    )
    rt["recovery_median_seconds"] = (
        rec.loc[rec["recovered"]].groupby(keys)["recovery_seconds"].median()
    )

    # every entity x every period, zero counts where nothing happened
    index = pd.MultiIndex.from_product([ids.to_numpy(), periods.index], names=keys)
    out = pd.concat([df, cfr, att, lt, rt], axis=1).reindex(index)
    counts = list(COUNT_COLUMNS)
    out[counts] = out[counts].fillna(0).astype("int64")
    out = out.reset_index().rename(columns={entity: "entity"})
    out = out.merge(periods[["period_start", "weeks"]], left_on="period", right_index=True)
    out = out.sort_values(["entity", "period_start"], ignore_index=True)
    out = out[["entity", "period", *COLUMNS]]

    # the metrics, and their change since the entity's previous period
    for mid, (num, den) in METRICS.items():
        value = out[num].astype("float64")
        if den is not None:
            value = value / out[den].where(out[den] != 0)
        out[mid] = value
    changes = out.groupby("entity", sort=False)[list(METRICS)].diff()
    out[[f"change.{m}" for m in METRICS]] = changes.to_numpy()
    return out


def all_dora(
    facts: Facts, since: date | None = None, until: date | None = None
) -> dict[tuple[str, str], pd.DataFrame]:
    """Every DORA result: per team and per service, for each grain."""
    return {
        (grain, entity): dora_frame(facts, grain, entity, since, until)
        for grain in GRAINS
        for entity in ENTITIES
    }


def compare_with_rows(
    frame: pd.DataFrame, rows: list[dict[str, Any]], by: str, rel: float = 1e-6
) -> list[str]:
    """Differences between a :func:`dora_frame` and ``dora_rows(...)["rows"]``; empty if equal.

    Every row must match on entity and period, every metric and change within ``rel``
    (relative; absolute below 1) with ``None`` on the same rows, and every count exactly.
    """
    problems: list[str] = []
    if len(frame) != len(rows):
        problems.append(f"row count: pandas {len(frame)} vs shipwise {len(rows)}")
        return problems
    ent = frame["entity"].tolist()
    per = frame["period"].tolist()
    metric_values = {m: frame[m].tolist() for m in METRICS}
    change_values = {m: frame[f"change.{m}"].tolist() for m in METRICS}
    count_values = {c: frame[c].tolist() for c in COUNT_COLUMNS}
    for i, row in enumerate(rows):
        where = f"{by}={row[by]} period={row['period']}"
        if (ent[i], per[i]) != (row[by], row["period"]):
            problems.append(f"row {i}: pandas ({ent[i]}, {per[i]}) vs shipwise {where}")
            break
        for kind, mine, theirs in (
            ("metrics", metric_values, row["metrics"]),
            ("change", change_values, row["change"]),
        ):
            for m, vals in mine.items():
                if not _close(vals[i], theirs[m], rel):
                    problems.append(f"{where} {kind} {m}: pandas {vals[i]} vs shipwise {theirs[m]}")
        for c, vals in count_values.items():
            if c in row["counts"] and int(vals[i]) != row["counts"][c]:
                problems.append(f"{where} {c}: pandas {vals[i]} vs shipwise {row['counts'][c]}")
        if len(problems) > 50:
            problems.append("…")
            break
    return problems


def compare_with_sql(frame: pd.DataFrame, sql_rows: pd.DataFrame, rel: float = 1e-6) -> list[str]:
    """Differences between a :func:`dora_frame` and the raw result of ``dora_sql`` (all columns)."""
    problems: list[str] = []
    if len(frame) != len(sql_rows):
        return [f"row count: pandas {len(frame)} vs sql {len(sql_rows)}"]
    a = frame.reset_index(drop=True)
    b = sql_rows.reset_index(drop=True)
    for col in ("entity", "period"):
        bad = a[col].astype(str) != b[col].astype(str)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            return [f"row {i} {col}: pandas {a[col][i]} vs sql {b[col][i]}"]
    for col in COLUMNS:
        x, y = a[col], b[col]
        if col == "period_start":
            x, y = pd.to_datetime(x), pd.to_datetime(y)
            bad = x != y
        else:
            xf = x.astype("float64").to_numpy()
            yf = y.astype("float64").to_numpy()
            both_nan = np.isnan(xf) & np.isnan(yf)
            tol = rel * np.maximum(1.0, np.abs(yf))
            with np.errstate(invalid="ignore"):
                bad = pd.Series(~both_nan & ~(np.abs(xf - yf) <= tol))
        for i in np.flatnonzero(np.asarray(bad))[:10]:
            problems.append(
                f"entity={a['entity'][i]} period={a['period'][i]} {col}: "
                f"pandas {x.iloc[i]} vs sql {y.iloc[i]}"
            )
    return problems


def _close(a: Any, b: Any, rel: float) -> bool:
    a_none = a is None or (isinstance(a, float) and np.isnan(a))
    b_none = b is None or (isinstance(b, float) and np.isnan(b))
    if a_none or b_none:
        return a_none and b_none
    return abs(float(a) - float(b)) <= rel * max(1.0, abs(float(b)))
