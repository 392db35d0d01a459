"""Step 4 of the method: k-means over the originals, drop the worst reconstructions per cluster;
then the optional quality controls on top: an absolute distance threshold, near-duplicates."""

import numpy as np
from sklearn.cluster import KMeans


def choose_k(n: int, k: int, min_cluster_size: int) -> int:
    """k from params, shrunk so the average cluster holds at least `min_cluster_size` pairs.

    With the paper's k=200 and 20,000 pairs every cluster averages 100 pairs, so dropping
    5% removes about 5 of each; a cluster of 3 pairs could drop none.
    """
    return max(1, min(k, n // max(1, min_cluster_size), n))


def drop_counts(sizes: list[int], fraction: float) -> list[int]:
    """How many to drop from each cluster: round(fraction * total) in all, split by largest remainder."""
    exact = [fraction * s for s in sizes]
    counts = [int(np.floor(e)) for e in exact]
    budget = int(round(fraction * sum(sizes))) - sum(counts)
    for c in sorted(range(len(sizes)), key=lambda c: exact[c] - counts[c], reverse=True)[: max(0, budget)]:
        counts[c] += 1
    return counts


def cluster(embeddings: np.ndarray, k: int, seed: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(embeddings), dtype=int)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings)


def prune(distances: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of pairs to keep: inside each cluster the largest distances go first."""
    keep = np.ones(len(distances), dtype=bool)
    clusters = sorted(set(labels.tolist()))
    sizes = [int((labels == c).sum()) for c in clusters]
    for c, n_drop in zip(clusters, drop_counts(sizes, fraction)):
        members = np.flatnonzero(labels == c)
        worst = members[np.argsort(-distances[members], kind="stable")[:n_drop]]
        keep[worst] = False
    return keep


# no_distance: the pair's reconstruction was rejected by our checks (an echo, a copy, boilerplate),
# so it has no distance; it could only rank best by mistake, so it is dropped before the filter
NO_DISTANCE, CLUSTER_FRACTION, MAX_DISTANCE, NEAR_DUPLICATE = REASONS = ("no_distance", "cluster_fraction", "max_distance", "near_duplicate")


def drop_reasons(distances: np.ndarray, labels: np.ndarray, fraction: float, max_distance: float) -> np.ndarray:
    """Why each pair is dropped ("" = kept): the paper's per-cluster fraction first, then, of the
    pairs it keeps, those farther than `max_distance`."""
    reasons = np.where(prune(distances, labels, fraction), "", CLUSTER_FRACTION).astype(object)
    reasons[(reasons == "") & (distances > max_distance)] = MAX_DISTANCE
    return reasons


def reason_counts(reasons) -> dict[str, int]:
    return {r: int(sum(1 for x in reasons if x == r)) for r in REASONS}
