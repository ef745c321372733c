"""Initiative attribution: what an investment did to its teams' cost to serve, with an honest interval.

Cost to serve (CTS) is team cost ÷ units delivered; the estimate works on ``log CTS`` per team ×
period, so an effect of ``-0.1`` means about 10 % cheaper per unit.

**Estimator.** Teams adopt an investment at different times (staggered adoption). The textbook
two-way fixed-effects regression (team FE + period FE + a treated dummy) is then biased: it is a
weighted average of every 2×2 comparison in the panel, including "forbidden" ones that use teams
*already* treated as the comparison group, and when effects change over time some weights are even
negative (Goodman-Bacon 2021, "Difference-in-differences with variation in treatment timing").
shipwise therefore uses a Callaway & Sant'Anna (2021, "Difference-in-Differences with multiple time
periods") style group-time estimator instead:

* for each adoption cohort ``g`` (teams whose first adopted period is ``g``) and each post period
  ``t ≥ g``, every team's change is ``y[i, t] − mean(y[i, s] for s < g)`` (its own pre-``g``
  average, so the baseline uses all of the cohort's pre-periods);
* ``ATT(g, t)`` is the cohort's mean change minus the mean change of the comparison teams, which
  are the never-adopters and the not-yet-adopters at ``t`` (adoption period ``> t``), so a
  comparison team is untreated in every period the comparison uses;
* cells without an adopting or a comparison team are left out, and the overall effect is the
  average of the ``ATT(g, t)`` weighted by their treated observations.

Only group means are needed, computed as matrix products over a team × period grid. The interval is
a percentile cluster bootstrap that resamples *teams* with replacement (multinomial team weights,
deterministic ``seed``), so serial correlation within a team is respected.

**Savings.** A treated observation with cost ``c`` would have cost ``c · exp(−effect)`` without the
effect, so attributed savings are ``Σ c · (exp(−effect) − 1)`` over the treated post-adoption
observations that entered the estimate (positive = money saved); observations without a
comparison are left out of savings too, which is conservative, and a warning says how many.
ROI is ``(savings − amount) ÷ amount``. Interval bounds map through the same formulas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shipwise.errors import ConfigError

#: Bootstrap replicates evaluated per matrix product (bounds memory to chunk × teams).
_CHUNK = 256
#: Share of degenerate bootstrap samples above which the interval gets a warning.
_FAILED_SHARE = 0.1


@dataclass(frozen=True)
class Panel:
    """Observations of one team in one period; rows with CTS null or <= 0 are dropped by the caller."""

    team: np.ndarray  # str team id per observation
    period: np.ndarray  # int period index (e.g. year*4 + quarter-1)
    log_cts: np.ndarray  # float, log of cost to serve
    cost: np.ndarray  # float, team cost in that period


@dataclass(frozen=True)
class Effect:
    """The estimated effect of one investment on log CTS, with savings, ROI and plain warnings."""

    effect: float | None
    low: float | None
    high: float | None
    treated_teams: int
    control_teams: int
    treated_observations: int
    attributed_savings: float | None
    savings_low: float | None
    savings_high: float | None
    roi: float | None
    roi_low: float | None
    roi_high: float | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Cohort:
    treat: np.ndarray  # n × T float: 1 where a cohort team is observed post-g and has a pre-period
    ctrl: np.ndarray  # n × T float: 1 where a not-yet/never-adopter is observed at t, with pre-periods
    dtreat: np.ndarray  # n × T change from the pre-g mean, 0 outside ``treat``
    dctrl: np.ndarray  # n × T change from the pre-g mean, 0 outside ``ctrl``


def _grid(panel: Panel, adoption: Mapping[str, int]) -> tuple[np.ndarray, ...]:
    """Team × period grid: mean log CTS, observed mask, summed cost, periods, adoption per team."""
    team = np.asarray(panel.team).astype(str)
    period = np.asarray(panel.period).astype(np.int64)
    y = np.asarray(panel.log_cts, dtype=float)
    cost = np.asarray(panel.cost, dtype=float)
    if not (team.shape == period.shape == y.shape == cost.shape) or team.ndim != 1:
        raise ValueError("Panel arrays must be one-dimensional and of the same length")
    keep = np.isfinite(y) & np.isfinite(cost)
    teams, ti = np.unique(team[keep], return_inverse=True)
    periods, pi = np.unique(period[keep], return_inverse=True)
    n, t = len(teams), len(periods)
    flat = ti * t + pi
    count = np.bincount(flat, minlength=n * t).reshape(n, t)
    ysum = np.bincount(flat, weights=y[keep], minlength=n * t).reshape(n, t)
    csum = np.bincount(flat, weights=cost[keep], minlength=n * t).reshape(n, t)
    seen = count > 0
    ymean = np.divide(ysum, count, out=np.zeros((n, t)), where=seen)
    adopt = np.array([float(adoption.get(str(k), np.inf)) for k in teams], dtype=float)
    return ymean, seen, csum, periods, adopt


def _cohorts(y: np.ndarray, seen: np.ndarray, periods: np.ndarray, adopt: np.ndarray) -> list[_Cohort]:
    out = []
    for g in np.unique(adopt[np.isfinite(adopt)]):
        pre = periods < g
        npre = (seen & pre).sum(axis=1)
        base = np.divide((y * (seen & pre)).sum(axis=1), npre, out=np.zeros(len(y)), where=npre > 0)
        ok = seen & (npre > 0)[:, None] & ~pre[None, :]
        treat = ok & (adopt == g)[:, None]
        ctrl = ok & (adopt[:, None] > periods[None, :])
        change = y - base[:, None]
        out.append(_Cohort(treat.astype(float), ctrl.astype(float),
                           np.where(treat, change, 0.0), np.where(ctrl, change, 0.0)))
    return out


def _att(w: np.ndarray, cohorts: list[_Cohort]) -> np.ndarray:
    """Aggregated ATT for each row of team weights ``w`` (replicates × teams); NaN when undefined."""
    num = np.zeros(len(w))
    den = np.zeros(len(w))
    for c in cohorts:
        nt, nc = w @ c.treat, w @ c.ctrl  # replicates × periods
        valid = (nt > 0) & (nc > 0)
        mean_ctrl = np.divide(w @ c.dctrl, nc, out=np.zeros_like(nc), where=valid)
        # nt · ATT(g, t) = Σ treated changes − nt · mean control change
        num += np.where(valid, w @ c.dtreat - nt * mean_ctrl, 0.0).sum(axis=1)
        den += np.where(valid, nt, 0.0).sum(axis=1)
    return np.divide(num, den, out=np.full(len(w), np.nan), where=den > 0)


def _savings(cost: float, effect: float) -> float:
    return float(cost * np.expm1(-effect))


def _roi(savings: float, amount: float) -> float | None:
    return (savings - amount) / amount if amount > 0 else None


def _empty(warning: str) -> Effect:
    return Effect(None, None, None, 0, 0, 0, None, None, None, None, None, None, (warning,))


def estimate(panel: Panel, adoption: Mapping[str, int], amount: float, *, confidence: float = 0.9,
             replicates: int = 999, seed: int = 7, min_control: int = 3) -> Effect:
    """Estimate an investment's effect on log CTS, its attributed savings and ROI.

    ``adoption`` maps each adopting team to the first period in which it had adopted; every other
    team in ``panel`` never adopted. ``amount`` is what the investment cost (for ROI).
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}",
                          hint="Use for example 0.9 for a 90 % interval.")
    if replicates < 0 or min_control < 0:
        raise ConfigError("replicates and min_control cannot be negative")
    if not np.isfinite(amount):
        raise ConfigError(f"the investment amount must be a number, got {amount}")

    y, seen, cost, periods, adopt = _grid(panel, adoption)
    if not np.isfinite(adopt).any():
        return _empty("no team adopted the investment in the periods covered: there is nothing to attribute")
    cohorts = _cohorts(y, seen, periods, adopt)
    n = len(y)

    # Point estimate and which cells, teams and observations it rests on.
    effect_arr = _att(np.ones((1, n)), cohorts)
    treated_cells = np.zeros(seen.shape, dtype=bool)
    control_cells = np.zeros(seen.shape, dtype=bool)
    min_cell_controls = n
    for c in cohorts:
        nt, nc = c.treat.sum(axis=0), c.ctrl.sum(axis=0)
        valid = (nt > 0) & (nc > 0)
        treated_cells |= (c.treat > 0) & valid[None, :]
        control_cells |= (c.ctrl > 0) & valid[None, :]
        if valid.any():
            min_cell_controls = min(min_cell_controls, int(nc[valid].min()))
    in_estimate = np.asarray(treated_cells.any(axis=1))
    treated_teams = int(in_estimate.sum())
    control_teams = int(control_cells.any(axis=1).sum())
    treated_obs = int(treated_cells.sum())

    warnings: list[str] = []
    adopters = np.isfinite(adopt)
    all_post = seen & (periods[None, :] >= adopt[:, None])
    left_out_teams = int((adopters & ~in_estimate).sum())
    if treated_obs == 0:
        if adopters.all() and len(np.unique(adopt)) == 1:
            return _empty("every team received it at once, so there is no comparison group: its "
                          "effect cannot be told apart from everything else that changed then")
        if any(c.treat.any() for c in cohorts):
            return _empty("no comparison team (never or not yet adopting) was observed in the same "
                          "periods: the effect cannot be estimated")
        return _empty("no adopting team was observed both before and after adopting: the effect "
                      "cannot be estimated")
    if left_out_teams:
        warnings.append(f"{left_out_teams} adopting team(s) left out: not observed both before and "
                        "after adopting, with a comparison team in the same periods")
    missing_obs = int((all_post & ~treated_cells & in_estimate[:, None]).sum())
    if missing_obs:
        warnings.append(f"{missing_obs} post-adoption observation(s) had no comparison team in the "
                        "same period and are left out of the effect and the savings")
    if control_teams < min_control:
        warnings.append(f"only {control_teams} comparison team(s): too few to separate the "
                        "investment from everything else")
    elif min_cell_controls < min_control:
        warnings.append(f"in some periods only {min_cell_controls} comparison team(s) remain "
                        "(the others had adopted): those periods are weakly identified")

    effect = float(effect_arr[0])
    treated_cost = float(cost[treated_cells].sum())
    savings = _savings(treated_cost, effect)

    # Cluster bootstrap: resample teams with replacement, as multinomial weights per replicate.
    low = high = None
    if replicates > 0:
        rng = np.random.default_rng(seed)
        draws = []
        for start in range(0, replicates, _CHUNK):
            size = min(_CHUNK, replicates - start)
            w = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
            draws.append(_att(w, cohorts))
        boot = np.concatenate(draws)
        finite = boot[np.isfinite(boot)]
        failed = replicates - len(finite)
        if len(finite) >= 2:
            alpha = (1.0 - confidence) / 2.0
            low, high = (float(v) for v in np.quantile(finite, [alpha, 1.0 - alpha]))
        if failed > _FAILED_SHARE * replicates:
            warnings.append(f"{failed} of {replicates} bootstrap samples drew no adopting or no "
                            "comparison team: the interval is unreliable")
    if low is None or high is None:
        warnings.append("no interval could be computed: treat the effect as unconfirmed")
    elif low <= 0.0 <= high:
        warnings.append("the interval spans zero: the effect may be nothing")

    s_low = _savings(treated_cost, high) if high is not None else None
    s_high = _savings(treated_cost, low) if low is not None else None
    return Effect(
        effect=effect, low=low, high=high,
        treated_teams=treated_teams, control_teams=control_teams, treated_observations=treated_obs,
        attributed_savings=savings, savings_low=s_low, savings_high=s_high,
        roi=_roi(savings, amount),
        roi_low=_roi(s_low, amount) if s_low is not None else None,
        roi_high=_roi(s_high, amount) if s_high is not None else None,
        warnings=tuple(warnings),
    )
