"""The first, cell-by-cell BOCPD implementation, kept as a reference: the fast one in
shipwise.investigate.detect must give the same probabilities."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def _student_t_logpdf(x: np.ndarray, mu: np.ndarray, kappa: np.ndarray, alpha: np.ndarray,
                      beta: np.ndarray) -> np.ndarray:
    nu = 2.0 * alpha
    var = beta * (kappa + 1.0) / (alpha * kappa)
    return (gammaln((nu + 1.0) / 2.0) - gammaln(nu / 2.0) - 0.5 * np.log(nu * np.pi * var)
            - (nu + 1.0) / 2.0 * np.log1p((x - mu) ** 2 / (nu * var)))


def reference_bocpd(z: np.ndarray, hazard_lambda: float = 250.0, max_run: int = 300,
                            delay: int = 3, mu0: float = 0.0, kappa0: float = 1.0,
                            alpha0: float = 1.0, beta0: float = 1.0) -> np.ndarray:
    """Adams & MacKay BOCPD on each row of ``z`` (M × T, ideally standardised), all rows at once.

    The run length ``r_t = k`` means the current segment is ``x[t−k..t]``. Each segment is Gaussian
    with unknown mean and precision under a Normal-Gamma prior, so the predictive is Student-t.
    Runs longer than ``max_run`` are merged into the last bin (truncation keeps each step
    O(M·max_run)). Returns ``P[m, s]`` = posterior probability, given data up to ``s + delay``,
    that a new segment starts at ``s`` (``P(r_{s+delay} = delay)``); the last ``delay`` columns
    use whatever data there is.
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    m, t_len = z.shape
    out = np.zeros((m, t_len))
    if t_len == 0:
        return out
    log_h, log_1mh = np.log(1.0 / hazard_lambda), np.log1p(-1.0 / hazard_lambda)
    x = z[:, 0:1]
    # posterior after x_0: one run of length 0
    log_r = np.zeros((m, 1))
    mu = (kappa0 * mu0 + x) / (kappa0 + 1.0)
    kappa = np.full((m, 1), kappa0 + 1.0)
    alpha = np.full((m, 1), alpha0 + 0.5)
    beta = beta0 + kappa0 * (x - mu0) ** 2 / (2.0 * (kappa0 + 1.0))
    for t in range(1, t_len):
        x = z[:, t:t + 1]
        pred = _student_t_logpdf(x, mu, kappa, alpha, beta)
        prior_pred = _student_t_logpdf(x, np.full((m, 1), mu0), np.full((m, 1), kappa0),
                                       np.full((m, 1), alpha0), np.full((m, 1), beta0))
        growth = log_r + pred + log_1mh
        total = np.logaddexp.reduce(log_r, axis=1, keepdims=True)
        new = log_h + total + prior_pred
        log_r = np.concatenate([new, growth], axis=1)
        # Normal-Gamma update of every run with x_t; the new run is the prior updated with x_t
        mu_n = np.concatenate([np.full((m, 1), mu0), mu], axis=1)
        ka_n = np.concatenate([np.full((m, 1), kappa0), kappa], axis=1)
        al_n = np.concatenate([np.full((m, 1), alpha0), alpha], axis=1)
        be_n = np.concatenate([np.full((m, 1), beta0), beta], axis=1)
        beta = be_n + ka_n * (x - mu_n) ** 2 / (2.0 * (ka_n + 1.0))
        mu = (ka_n * mu_n + x) / (ka_n + 1.0)
        kappa = ka_n + 1.0
        alpha = al_n + 0.5
        if log_r.shape[1] > max_run:  # merge the two longest runs, keep the longer run's stats
            log_r[:, -2] = np.logaddexp(log_r[:, -2], log_r[:, -1])
            for a in (mu, kappa, alpha, beta):
                a[:, -2] = a[:, -1]
            log_r, mu, kappa, alpha, beta = (a[:, :-1] for a in (log_r, mu, kappa, alpha, beta))
        log_r -= np.logaddexp.reduce(log_r, axis=1, keepdims=True)
        s = t - delay
        if s >= 0 and delay < log_r.shape[1]:
            out[:, s] = np.exp(log_r[:, delay])
    # tail: change points in the last `delay` columns, judged on the data there is
    for s in range(max(0, t_len - delay), t_len):
        k = t_len - 1 - s
        if k < log_r.shape[1] and s > 0:
            out[:, s] = np.exp(log_r[:, k])
    out[:, 0] = 0.0  # nothing to change from at the first sample
    return out
