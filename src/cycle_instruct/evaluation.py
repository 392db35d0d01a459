"""Evaluation building blocks: the paper's baselines, offline scores, and the report table.

Everything is measured without an external judge: embedding cosine and ROUGE-L against
gold text on a held-out split, and question-answer relevance of a dataset's pairs.
"""

import random

import numpy as np

from .records import Record


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two sets of unit-length embeddings."""
    return np.sum(a * b, axis=1)


def take_share(items: list, percent: float, seed: int) -> list:
    """A seeded random `percent`% of `items` (at least one unless 0%), in their original order."""
    if percent <= 0:
        return []
    n = max(1, round(len(items) * percent / 100))
    keep = set(random.Random(seed).sample(range(len(items)), min(n, len(items))))
    return [x for i, x in enumerate(items) if i in keep]


def cluster_seeds(embeddings: np.ndarray, n: int, seed: int) -> list[int]:
    """Clust-k%: k-means with n clusters; the member nearest each centroid is its seed."""
    from sklearn.cluster import KMeans

    n = max(1, min(n, len(embeddings)))
    km = KMeans(n_clusters=n, n_init=10, random_state=seed).fit(embeddings)
    chosen = []
    for c in range(n):
        members = np.flatnonzero(km.labels_ == c)
        distances = np.linalg.norm(embeddings[members] - km.cluster_centers_[c], axis=1)
        chosen.append(int(members[np.argmin(distances)]))
    return sorted(chosen)


def only_side(record: Record, side: str) -> Record:
    """The pair with only `side` filled in, as a model sees an unpaired text."""
    return Record(id=record.id, original=side, source=record.source, **{side: getattr(record, side)})


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def sem(values) -> float | None:
    """Standard error of the mean: how far a mean over a small test split can move by chance."""
    values = [v for v in values if v is not None]
    return round(float(np.std(values, ddof=1) / np.sqrt(len(values))), 4) if len(values) > 1 else None
