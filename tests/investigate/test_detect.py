"""Detectors: the fast BOCPD is the same recursion as the cell-by-cell one."""

from __future__ import annotations

import numpy as np

from shipwise.investigate.detect import bocpd_changepoint_probs


def test_fast_bocpd_equals_the_cell_by_cell_recursion() -> None:
    from tests.investigate.bocpd_reference import reference_bocpd

    rng = np.random.default_rng(3)
    z = rng.normal(size=(40, 380))
    z[::3, 200:] += 4.0  # level shifts
    z[5, 100] = 30.0  # a spike
    for max_run in (300, 50):  # with and without run-length truncation
        fast = bocpd_changepoint_probs(z, max_run=max_run)
        ref = reference_bocpd(z, max_run=max_run)
        assert np.max(np.abs(fast - ref)) < 1e-9
