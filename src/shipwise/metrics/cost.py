"""Cost to Serve Software v1, written once as set-based SQL over the store and its derived facts.

Definitions (the contract; docs/metrics/cost.*.md explain each):

- Units of delivery per team and period, by the team's ``delivery_unit``: ``deployments`` →
  normalised successful production deployments (as in DORA); ``pull_requests`` → pull requests
  that reached production in the period (``pr_delivery_fact``); ``commits`` → commits whose first
  successful production deployment falls in the period.
- Cost of a team in a period: the sum of its ``cost`` records for the months in the period
  (chosen categories, all by default), each converted to the reporting currency at the
  ``fx_rate`` of its month and currency (a record already in the reporting currency at 1). When
  a record has no rate, the period's cost is NULL (``unconverted_costs`` counts them): a partial
  sum would understate the cost, and a guessed rate would invent one.
- cost_to_serve = cost ÷ units (NULL when units = 0).
- improvement = 1 − CTS(p) ÷ CTS(p − k): k = 1 for qoq (previous quarter / month), k = 4 quarters
  or 12 months for yoy. Positive means cheaper.
- savings = units(p) × (CTS(baseline) − CTS(p)); effective_headcount = savings ÷ (people cost ÷
  average FTE) of the period.
- Tension: human-actioned sev1/sev2 incidents opened in the period on the team's services per
  normalised deployment; and the change fail rate. Inputs: deployments per builder-week, human
  interventions per deployment, human-actioned incidents per deployment.

Every period of the range is present for every team (zero units, NULL ratios), so the window
``lag`` reaches exactly one or four periods back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shipwise.metrics import registry

GRAINS = ("month", "quarter")
CATEGORIES = ("people", "infrastructure", "tooling", "other", "cloud")
#: How cloud bills count (``cost.cloud.basis``): effective (amortised) or billed (unblended) cost.
CLOUD_BASES = ("amortised", "unblended")


def cost_records_sql(cloud_basis: str = "amortised") -> str:
    """The team cost records: the ``cost`` table, and the cloud spend mapped to a team
    (``cloud_cost``, kind spend, on ``cloud_basis``) as category ``cloud`` per team, month and
    currency. Credits, refunds, discounts and adjustments are not netted in (docs/cloud-cost.md)."""
    if cloud_basis not in CLOUD_BASES:
        raise ValueError(f"unknown cloud cost basis {cloud_basis!r}")
    return f"""SELECT team, month, category, amount, currency FROM cost
  UNION ALL
  SELECT team, month, 'cloud' AS category, sum(amount) AS amount, currency FROM cloud_cost
  WHERE team IS NOT NULL AND kind = 'spend' AND basis = '{cloud_basis}'
  GROUP BY team, month, currency"""

#: Aggregate columns of the query, after team and period.
COLUMNS = (
    "period_start",
    "weeks",
    "delivery_unit",
    "cost_amount",
    "unconverted_costs",
    "people_amount",
    "average_fte",
    "units",
    "deployments",
    "reached_production",
    "failed_deployments",
    "high_severity_tickets",
    "incident_tickets",
    "manual_interventions",
    "baseline_cost_to_serve",
    "baseline_cost_amount",
    "previous_cost_to_serve",
    "year_ago_cost_to_serve",
    "baseline_change_fail_rate",
    "baseline_high_severity_tickets_per_deployment",
    "baseline_period",
    "baseline_units",
    "baseline_months_without_units",
    "first_costed_period",
    "months_without_units",
    "first_month_without_units",
    "last_month_without_units",
    "delivering_months_cost_amount",
)


def organisation_sql(team_sql: str) -> str:
    """Roll-up over the fixed cohort of teams with a cost to serve in the period and its baseline.

    Units differ between teams, so they are never summed: the organisation's improvement is the
    mean of team improvements weighted by each team's cost in the baseline period.
    """
    return f"""
SELECT period, min(period_start) AS period_start,
       count(*) AS cohort_teams,
       sum(baseline_cost_amount * improvement) / sum(baseline_cost_amount) AS improvement,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY improvement) AS improvement_median_team,
       sum("cost.savings") AS savings,
       sum("cost.savings_unit_cost") AS savings_unit_cost,
       sum("cost.savings_volume") AS savings_volume,
       sum("cost.effective_headcount") AS effective_headcount,
       sum(cost_amount) AS cost_amount,
       sum(baseline_cost_amount) AS baseline_cost_amount,
       sum(units * baseline_cost_to_serve) AS same_volume_at_baseline_cost,
       sum(average_fte) AS average_fte,
       sum(CASE WHEN average_fte IS NULL THEN 1 ELSE 0 END) AS teams_without_headcount
FROM ({team_sql}) t
WHERE improvement IS NOT NULL AND baseline_cost_amount > 0
GROUP BY period
ORDER BY period_start"""


@dataclass(frozen=True)
class CostQuery:
    grain: str
    since: date
    until: date
    baseline: str = "yoy"  # or "qoq"
    categories: tuple[str, ...] = CATEGORIES
    teams: tuple[str, ...] = ()
    #: costs in other currencies are converted to this one (``fx_rate``)
    reporting_currency: str | None = None
    #: cloud spend on this basis (``cost.cloud.basis``)
    cloud_basis: str = "amortised"

    def since_padded(self) -> date:
        """A year before ``since``, so the first periods shown still have their baselines."""
        return date(self.since.year - 1, self.since.month, 1)


def _q(name: str) -> str:
    return '"' + name + '"'


def lags(grain: str) -> tuple[int, int]:
    """(previous period, same period a year earlier) as row offsets at this grain."""
    return (1, 4) if grain == "quarter" else (1, 12)


def _per_period(fact: str, instant: str, aggregates: str) -> str:
    """Aggregates of a per-team fact table by the period its ``instant`` falls in."""
    return (f"SELECT f.team, cal.period, {aggregates} FROM {fact} f "
            f"JOIN cal ON cal.day = CAST(f.{instant} AS DATE) GROUP BY f.team, cal.period")


def _per_month(fact: str, instant: str, aggregates: str) -> str:
    """Aggregates of a per-team fact table by the month its ``instant`` falls in."""
    return (f"SELECT f.team, cal.month, {aggregates} FROM {fact} f "
            f"JOIN cal ON cal.day = CAST(f.{instant} AS DATE) GROUP BY f.team, cal.month")


def cost_sql(q: CostQuery) -> tuple[str, list[object]]:
    grain = q.grain
    prev, year = lags(grain)
    k = year if q.baseline == "yoy" else prev
    cats = ", ".join("?" for _ in q.categories)
    team_filter = f"WHERE t.id IN ({', '.join('?' for _ in q.teams)})" if q.teams else ""
    metrics = registry.family("cost")
    metric_cols = ", ".join(f"{m.sql} AS {_q(m.id)}" for m in metrics if not m.rollup)
    w = "OVER (PARTITION BY team ORDER BY period_start)"
    sql = f"""
WITH
cal AS (SELECT day, {grain} AS period, month FROM calendar WHERE day BETWEEN ? AND ?),
periods AS (SELECT period, min(day) AS period_start, CAST(count(*) AS DOUBLE) / 7 AS weeks
            FROM cal GROUP BY period),
teams AS (SELECT t.id AS team, t.org_unit, t.delivery_unit FROM team t {team_filter}),
month_period AS (
  SELECT c.month, c.{grain} AS period FROM calendar c
  WHERE c.day = c.month_start AND c.day BETWEEN ? AND ?
),
rated AS ({rated_cost_sql(q.cloud_basis)}),
month_costs AS (
  SELECT k.team, mp.period, mp.month, sum(k.amount * k.rate) AS cost_amount,
         sum(CASE WHEN k.rate IS NULL THEN 1 ELSE 0 END) AS unconverted
  FROM rated k JOIN month_period mp ON mp.month = k.month
  WHERE k.category IN ({cats})
  GROUP BY k.team, mp.period, mp.month
),
costs AS (
  SELECT team, period, sum(cost_amount) AS cost_amount, sum(unconverted) AS unconverted
  FROM month_costs GROUP BY team, period
),
people_costs AS (
  SELECT k.team, mp.period, sum(k.amount * k.rate) AS people_amount,
         sum(CASE WHEN k.rate IS NULL THEN 1 ELSE 0 END) AS unconverted
  FROM rated k JOIN month_period mp ON mp.month = k.month
  WHERE k.category = 'people'
  GROUP BY k.team, mp.period
),
fte AS (
  SELECT h.team, mp.period, avg(h.fte) AS average_fte
  FROM headcount h JOIN month_period mp ON mp.month = h.month
  GROUP BY h.team, mp.period
),
deploys_m AS ({_per_month("dora_deploy_fact", "first_success_at", "count(*) AS n")}),
reached AS ({_per_period("dora_deploy_fact", "reached_at",
                         "count(*) AS reached_production, sum(f.failed) AS failed_deployments")}),
prs_m AS ({_per_month("pr_delivery_fact", "delivered_at", "count(*) AS n")}),
changes_m AS ({_per_month("dora_change_fact", "deployed_at", "count(*) AS n")}),
month_units AS (
  SELECT t.team, mp.period, mp.month, coalesce(d.n, 0) AS deployments,
         CASE t.delivery_unit
           WHEN 'deployments' THEN coalesce(d.n, 0)
           WHEN 'pull_requests' THEN coalesce(pr.n, 0)
           ELSE coalesce(ch.n, 0) END AS units,
         mc.cost_amount
  FROM teams t CROSS JOIN month_period mp
  LEFT JOIN deploys_m d ON d.team = t.team AND d.month = mp.month
  LEFT JOIN prs_m pr ON pr.team = t.team AND pr.month = mp.month
  LEFT JOIN changes_m ch ON ch.team = t.team AND ch.month = mp.month
  LEFT JOIN month_costs mc ON mc.team = t.team AND mc.month = mp.month
),
delivered AS (
  SELECT team, period, sum(units) AS units, sum(deployments) AS deployments,
         sum(CASE WHEN units = 0 AND cost_amount > 0 THEN 1 ELSE 0 END) AS months_without_units,
         min(CASE WHEN units = 0 AND cost_amount > 0 THEN month END) AS first_month_without_units,
         max(CASE WHEN units = 0 AND cost_amount > 0 THEN month END) AS last_month_without_units,
         sum(CASE WHEN units > 0 THEN cost_amount END) AS delivering_months_cost_amount
  FROM month_units GROUP BY team, period
),
tickets AS (
  SELECT s.team, cal.period,
         sum(CASE WHEN i.severity IN ('sev1', 'sev2') THEN 1 ELSE 0 END) AS high_severity_tickets,
         count(*) AS incident_tickets
  FROM incident i JOIN service s ON s.id = i.service
  JOIN cal ON cal.day = CAST(i.opened_at AS DATE)
  WHERE i.human_actioned
  GROUP BY s.team, cal.period
),
interventions AS (
  SELECT s.team, cal.period, sum(d.manual_interventions) AS manual_interventions
  FROM deployment d JOIN service s ON s.id = d.service
  JOIN cal ON cal.day = CAST(d.finished_at AS DATE)
  WHERE lower(d.environment) = 'production'
  GROUP BY s.team, cal.period
),
grid AS (
  SELECT t.team, t.org_unit, t.delivery_unit, p.period, p.period_start, p.weeks,
         CASE WHEN c.unconverted > 0 THEN NULL ELSE coalesce(c.cost_amount, 0) END AS cost_amount,
         coalesce(c.unconverted, 0) AS unconverted_costs,
         CASE WHEN pc.unconverted > 0 THEN NULL
              ELSE coalesce(pc.people_amount, 0) END AS people_amount,
         f.average_fte,
         coalesce(d.units, 0) AS units,
         coalesce(d.deployments, 0) AS deployments,
         coalesce(d.months_without_units, 0) AS months_without_units,
         d.first_month_without_units, d.last_month_without_units,
         d.delivering_months_cost_amount,
         coalesce(r.reached_production, 0) AS reached_production,
         coalesce(r.failed_deployments, 0) AS failed_deployments,
         coalesce(tk.high_severity_tickets, 0) AS high_severity_tickets,
         coalesce(tk.incident_tickets, 0) AS incident_tickets,
         coalesce(iv.manual_interventions, 0) AS manual_interventions
  FROM teams t CROSS JOIN periods p
  LEFT JOIN costs c ON c.team = t.team AND c.period = p.period
  LEFT JOIN people_costs pc ON pc.team = t.team AND pc.period = p.period
  LEFT JOIN fte f ON f.team = t.team AND f.period = p.period
  LEFT JOIN delivered d ON d.team = t.team AND d.period = p.period
  LEFT JOIN reached r ON r.team = t.team AND r.period = p.period
  LEFT JOIN tickets tk ON tk.team = t.team AND tk.period = p.period
  LEFT JOIN interventions iv ON iv.team = t.team AND iv.period = p.period
),
unit_costs AS (
  SELECT grid.*,
         CASE WHEN units > 0 AND cost_amount > 0 THEN cost_amount / units END AS cts,
         CASE WHEN reached_production > 0
              THEN CAST(failed_deployments AS DOUBLE) / reached_production END AS cfr,
         CASE WHEN deployments > 0
              THEN CAST(high_severity_tickets AS DOUBLE) / deployments END AS hst
  FROM grid
),
agg AS (
  SELECT unit_costs.*,
         lag(cts, {k}) {w} AS baseline_cost_to_serve,
         lag(cost_amount, {k}) {w} AS baseline_cost_amount,
         lag(cts, {prev}) {w} AS previous_cost_to_serve,
         lag(cts, {year}) {w} AS year_ago_cost_to_serve,
         lag(cfr, {k}) {w} AS baseline_change_fail_rate,
         lag(hst, {k}) {w} AS baseline_high_severity_tickets_per_deployment,
         lag(period, {k}) {w} AS baseline_period,
         lag(units, {k}) {w} AS baseline_units,
         lag(months_without_units, {k}) {w} AS baseline_months_without_units,
         min(CASE WHEN cts IS NOT NULL THEN period END) OVER (PARTITION BY team)
           AS first_costed_period
  FROM unit_costs
)
SELECT team, org_unit, period, {", ".join(COLUMNS)}, {metric_cols},
       CASE WHEN cts IS NOT NULL AND baseline_cost_to_serve > 0
            THEN 1 - cts / baseline_cost_to_serve END AS improvement,
       cfr AS {_q("dora.change_fail_rate")}
FROM agg
WHERE period IN (SELECT {grain} FROM calendar WHERE day BETWEEN ? AND ?)
"""
    params: list[object] = [q.since_padded(), q.until, *q.teams, q.since_padded(), q.until,
                            q.reporting_currency, q.reporting_currency, *q.categories,
                            q.since, q.until]
    return sql, params


def rated_cost_sql(cloud_basis: str = "amortised") -> str:
    """Cost records (:func:`cost_records_sql`) with the rate that converts them to the reporting
    currency (two ``?``: the reporting currency, twice): 1 in that currency, the ``fx_rate`` of
    the record's month and currency otherwise, NULL when there is none (never guessed)."""
    return f"""SELECT k.team, k.month, k.category, k.amount, k.currency,
         CASE WHEN k.currency = ? THEN CAST(1 AS DOUBLE) ELSE r.rate END AS rate, r.source
  FROM ({cost_records_sql(cloud_basis)}) k LEFT JOIN fx_rate r
    ON r.month = k.month AND r.currency = k.currency AND r.reporting_currency = ?"""


def conversion_sql(q: CostQuery) -> tuple[str, list[object]]:
    """The cost records in another currency that the answer reads (the window and the year
    before it, for baselines), per team, month and currency, with the rate used (NULL: none)."""
    cats = ", ".join("?" for _ in q.categories)
    teams = f"AND k.team IN ({', '.join('?' for _ in q.teams)})" if q.teams else ""
    sql = f"""
SELECT k.team, k.month, k.currency, k.rate, k.source, count(*) AS records,
       sum(k.amount) AS amount, sum(k.amount * k.rate) AS reported_amount
FROM ({rated_cost_sql(q.cloud_basis)}) k
WHERE k.currency <> ? AND k.month >= ? AND k.month <= ? AND k.category IN ({cats}) {teams}
GROUP BY k.team, k.month, k.currency, k.rate, k.source
ORDER BY k.month, k.currency, k.team"""
    params: list[object] = [q.reporting_currency, q.reporting_currency, q.reporting_currency,
                            q.since_padded().strftime("%Y-%m"), q.until.strftime("%Y-%m"),
                            *q.categories, *q.teams]
    return sql, params


def missing_rates_sql() -> str:
    """Months and currencies of cost and investment records with no rate to the reporting
    currency (``?`` four times), for ``shipwise doctor``. DuckDB only (not a metric)."""
    return """
SELECT x.month, x.currency, count(*) AS records FROM (
  SELECT month, currency FROM cost
  UNION ALL SELECT month, currency FROM cloud_cost WHERE team IS NOT NULL AND kind = 'spend'
  UNION ALL SELECT strftime(started_at, '%Y-%m'), currency FROM investment
) x
WHERE x.currency <> ? AND NOT EXISTS (
  SELECT 1 FROM fx_rate r
  WHERE r.month = x.month AND r.currency = x.currency AND r.reporting_currency = ?)
GROUP BY x.month, x.currency ORDER BY x.month, x.currency"""


def investments_sql() -> str:
    """Investments with their teams and the rate converting their amount to the reporting
    currency (``?`` twice): the ``fx_rate`` of the month of ``started_at``, NULL when none.
    DuckDB only (the initiatives are not computed on Spark)."""
    return """
SELECT i.id, i.name, i.kind, i.amount, i.currency, i.started_at,
       CASE WHEN i.currency = ? THEN CAST(1 AS DOUBLE) ELSE r.rate END AS rate,
       list(it.team ORDER BY it.team) AS teams
FROM investment i
LEFT JOIN investment_team it ON it.investment_id = i.id
LEFT JOIN fx_rate r ON r.month = strftime(i.started_at, '%Y-%m') AND r.currency = i.currency
  AND r.reporting_currency = ?
GROUP BY ALL ORDER BY i.started_at, i.id"""


def currency_sql() -> str:
    """The currencies cost records are in."""
    return ("SELECT DISTINCT currency FROM (SELECT currency FROM cost UNION ALL "
            "SELECT currency FROM cloud_cost WHERE team IS NOT NULL AND kind = 'spend') c "
            "ORDER BY currency")


def data_span_sql() -> str:
    """First and last day with cost records (default range)."""
    return (
        "SELECT CAST(min(month) || '-01' AS DATE), "
        "last_day(CAST(max(month) || '-01' AS DATE)) FROM (SELECT month FROM cost UNION ALL "
        "SELECT month FROM cloud_cost WHERE team IS NOT NULL AND kind = 'spend') c"
    )
