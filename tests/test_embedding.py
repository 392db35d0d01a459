import numpy as np

from cycle_instruct.distances import distance_stats, l2_distances
from cycle_instruct.embedding import embed, load_embedder


def test_embedded_minilm_ranks_faithful_reconstructions_closer():
    model = load_embedder("all-MiniLM-L6-v2")
    originals = embed(model, ["How do I reset my password?", "How do I reset my password?"])
    reconstructions = embed(model, ["What are the steps to reset my password?", "Which bird migrates the farthest?"])
    d = l2_distances(originals, reconstructions)
    assert np.allclose(np.linalg.norm(originals, axis=1), 1.0, atol=1e-5)
    assert 0 < d[0] < d[1] <= 2


def test_distance_stats():
    assert distance_stats([1.0, 2.0, 3.0]) == {"mean": 2.0, "median": 2.0, "p95": 2.9}
    assert distance_stats([]) == {"mean": None, "median": None, "p95": None}
