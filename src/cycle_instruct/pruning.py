"""Step 4 of the method: k-means over the originals, drop the worst reconstructions per cluster;
then the optional quality controls on top: an absolute distance threshold, near-duplicates."""

import faiss
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


def cluster(embeddings: np.ndarray, k: int, seed: int, full_kmeans_max: int) -> np.ndarray:
    """Cluster labels, the same for the same seed. Up to `full_kmeans_max` pairs: scikit-learn's full
    k-means with 10 restarts (stable on few pairs, and the results of earlier runs); above: faiss."""
    if k == 1:
        return np.zeros(len(embeddings), dtype=np.int64)
    if len(embeddings) <= full_kmeans_max:
        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings)
    return faiss_kmeans(embeddings, k, seed)


def faiss_kmeans(embeddings: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Lloyd's k-means in faiss: 20 iterations, one start, trained on a sample of at most 256 pairs
    per cluster (faiss's default), then every pair assigned to its nearest centroid. Time grows
    linearly in the pairs (sklearn's full k-means grows as n^1.6: hours for a million)."""
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    # min_points_per_centroid=1: few pairs per cluster are fine here (choose_k sees to it); no warning
    km = faiss.Kmeans(x.shape[1], k, niter=20, nredo=1, seed=seed, max_points_per_centroid=256, min_points_per_centroid=1)
    km.train(x)
    return km.index.search(x, 1)[1].ravel()


def prune(distances: np.ndarray, labels: np.ndarray, fraction: float, sides: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of pairs to keep: inside each cluster the largest distances go first.

    With `sides` (prune.rank: per_side) each side is ranked on its own: the fraction is taken from each
    side's pairs of each cluster, so the side whose distances run larger (a long answer rebuilt from a
    question is harder than a short question from an answer) does not take the whole cut.
    """
    keep = np.ones(len(distances), dtype=bool)
    parts = [np.arange(len(distances))] if sides is None else [np.flatnonzero(sides == s) for s in sorted(set(sides.tolist()))]
    for part in parts:
        clusters = sorted(set(labels[part].tolist()))
        sizes = [int((labels[part] == c).sum()) for c in clusters]
        for c, n_drop in zip(clusters, drop_counts(sizes, fraction)):
            members = part[labels[part] == c]
            worst = members[np.argsort(-distances[members], kind="stable")[:n_drop]]
            keep[worst] = False
    return keep


# no_distance: the pair's reconstruction was rejected by our checks (an echo, a copy, boilerplate),
# so it has no distance; it could only rank best by mistake, so it is dropped before the filter
# unsupported: a generated answer whose support (support.py) is below prune.min_support
NO_DISTANCE, CLUSTER_FRACTION, MAX_DISTANCE, UNSUPPORTED, NEAR_DUPLICATE = REASONS = (
    "no_distance",
    "cluster_fraction",
    "max_distance",
    "unsupported",
    "near_duplicate",
)


def drop_reasons(
    distances: np.ndarray, labels: np.ndarray, fraction: float, max_distance: float, sides: np.ndarray | None = None
) -> np.ndarray:
    """Why each pair is dropped ("" = kept): the paper's per-cluster fraction first (per side if `sides` is
    given), then, of the pairs it keeps, those farther than `max_distance`."""
    reasons = np.where(prune(distances, labels, fraction, sides), "", CLUSTER_FRACTION).astype(object)
    reasons[(reasons == "") & (distances > max_distance)] = MAX_DISTANCE
    return reasons


def reason_counts(reasons) -> dict[str, int]:
    return {r: int(sum(1 for x in reasons if x == r)) for r in REASONS}
