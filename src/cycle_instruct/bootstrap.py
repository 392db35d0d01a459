"""Paired bootstrap: is one method's score on the same test items really above another's?

Every method is scored on the same held-out items, so the question is about the per-item
differences: resample the items with replacement, take the mean difference each time, and read
the 95% interval off the 2.5th and 97.5th percentiles (Efron and Tibshirani; the paired test of
Koehn 2004 for MT). An interval that excludes 0 is a difference the test split supports.
"""

import numpy as np


def paired_bootstrap(a, b, iters: int, seed: int) -> dict | None:
    """Mean of a - b over paired items and its 95% percentile interval; None when an item lacks a score."""
    a, b = (np.array([np.nan if x is None else x for x in v], dtype=float) for v in (a, b))
    if len(a) != len(b) or not len(a) or np.isnan(a).any() or np.isnan(b).any():
        return None
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(iters, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "diff": round(float(diff.mean()), 4),
        "low": round(float(low), 4),
        "high": round(float(high), 4),
        "excludes_zero": bool(low > 0 or high < 0),
        "items": len(diff),
    }


def aligned(ids_a: list, scores_a: list, ids_b: list, scores_b: list) -> tuple[list, list]:
    """The two methods' scores on the items both have, in one order (the same test split gives the same items)."""
    b = dict(zip(ids_b, scores_b))
    pairs = [(s, b[i]) for i, s in zip(ids_a, scores_a) if i in b]
    return [p[0] for p in pairs], [p[1] for p in pairs]
