import numpy as np
import pytest

from cycle_instruct.pruning import choose_k, cluster, drop_counts, prune


@pytest.mark.parametrize("n,k,min_size,expected", [(20000, 200, 20, 200), (100, 200, 20, 5), (30, 200, 20, 1), (3, 200, 20, 1)])
def test_k_shrinks_with_few_samples(n, k, min_size, expected):
    assert choose_k(n, k, min_size) == expected


def test_drop_counts_hit_the_overall_fraction():
    sizes = [7, 13, 19, 21, 40]
    counts = drop_counts(sizes, 0.05)
    assert sum(counts) == round(0.05 * sum(sizes)) == 5
    assert all(c <= s for c, s in zip(counts, sizes))


def test_largest_distances_are_dropped_inside_each_cluster():
    labels = np.array([0] * 20 + [1] * 20)
    distances = np.concatenate([np.linspace(0, 1, 20), np.linspace(0, 0.1, 20)])
    keep = prune(distances, labels, 0.05)
    # each cluster loses its own worst pair, even though cluster 1's worst is better than most of cluster 0
    assert np.flatnonzero(~keep).tolist() == [19, 39]


def test_kmeans_separates_obvious_groups():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.01, (10, 4)), rng.normal(5, 0.01, (10, 4))])
    labels = cluster(points, 2, seed=0)
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]
