import json

import numpy as np
import pytest

from cycle_instruct.dedup import duplicates, embedding_neighbours, minhash_neighbours, near_duplicates
from cycle_instruct.errors import UserError
from cycle_instruct.pruning import choose_k, cluster, drop_counts, drop_reasons, prune, reason_counts
from cycle_instruct.records import Record, read_records, write_records
from cycle_instruct.steps.prune import run

from conftest import shipped_params


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


FULL, FAISS = 10_000, 0  # prune.full_kmeans_max: the shipped value (sklearn's full k-means on few pairs), 0 (faiss always)


@pytest.mark.parametrize("full_kmeans_max", [FULL, FAISS])
def test_kmeans_separates_obvious_groups(full_kmeans_max):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.01, (10, 4)), rng.normal(5, 0.01, (10, 4))]).astype(np.float32)
    labels = cluster(points, 2, seed=0, full_kmeans_max=full_kmeans_max)
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]


def blobs(n: int, centres: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres, like sentence embeddings of a few topics."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, 384))
    x = c[rng.integers(0, centres, n)] / np.sqrt(384) + rng.normal(0, 0.06, (n, 384))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("full_kmeans_max", [FULL, FAISS])
def test_clusters_are_the_same_for_the_same_seed(full_kmeans_max):
    x = blobs(3000 if full_kmeans_max == FAISS else 200, 40)
    k = choose_k(len(x), 200, 20)
    first, again = (cluster(x, k, seed=7, full_kmeans_max=full_kmeans_max) for _ in range(2))
    assert np.array_equal(first, again)
    assert sorted(set(first.tolist())) == list(range(k))  # every cluster used, labels 0..k-1


def test_faiss_on_a_few_pairs_per_cluster_still_gives_one_label_each():
    """choose_k never asks for more clusters than pairs; at k = n every pair is its own cluster."""
    x = blobs(5, 5)
    assert sorted(cluster(x, 5, seed=0, full_kmeans_max=FAISS).tolist()) == [0, 1, 2, 3, 4]
    assert cluster(x[:3], choose_k(3, 200, 20), seed=0, full_kmeans_max=FAISS).tolist() == [0, 0, 0]


# --- quality controls on top of the paper's filter ------------------------------------------

WORDS = "apple river castle piano winter rocket garden silver thunder mirror forest candle ocean marble falcon violet desert harbor lantern meadow".split()


def pair(i: int, distance: float, text: str | None = None, original: str = "instruction") -> Record:
    """A pair unlike every other (word 3-gram Jaccard well below 0.5), unless `text` says otherwise."""
    w = WORDS[i % len(WORDS)]
    text = text or f"How does the {w} {i} work in {w} land? The {w} {i} works with {w} power every day."
    instruction, response = text.split("? ", 1)
    return Record(
        id=f"p{i:03d}", original=original, instruction=instruction + "?", response=response, iteration=2, distance=distance
    )


def test_max_distance_drops_far_pairs_the_fraction_kept():
    distances = np.array([0.1] * 37 + [1.3, 1.4, 1.5])
    reasons = drop_reasons(distances, np.zeros(40, dtype=int), 0.05, max_distance=1.0)
    assert reasons.tolist() == [""] * 37 + ["max_distance", "cluster_fraction", "cluster_fraction"]
    assert reason_counts(reasons) == {
        "no_distance": 0,
        "cluster_fraction": 2,
        "max_distance": 1,
        "unsupported": 0,
        "near_duplicate": 0,
    }


def test_max_distance_2_is_off():
    distances = np.array([0.1] * 37 + [1.3, 1.4, 2.0])
    reasons = drop_reasons(distances, np.zeros(40, dtype=int), 0.05, max_distance=2.0)
    assert reason_counts(reasons) == {
        "no_distance": 0,
        "cluster_fraction": 2,
        "max_distance": 0,
        "unsupported": 0,
        "near_duplicate": 0,
    }


NEAR = (
    "What is the tallest mountain in the whole world today? Mount Everest is the tallest mountain in the whole world: "
    "its summit stands 8,849 metres above sea level, on the border between Nepal and the Tibet region of China."
)
NEAR2 = NEAR.replace("8,849", "8,848")  # one word differs: Jaccard of the word 3-grams 0.83


def test_minhash_finds_near_identical_pairs_only():
    texts = [NEAR, NEAR2] + [f"{r.instruction} {r.response}" for r in (pair(i, 0.1) for i in range(2, 8))]
    neighbours = minhash_neighbours(texts, 0.8, seed=0)
    assert neighbours[0] == {1} and neighbours[1] == {0}
    assert all(n == set() for n in neighbours[2:])


def test_near_duplicates_keep_the_lowest_distance_pair():
    records = [pair(0, 0.5, NEAR), pair(1, 0.3), pair(2, 0.2, NEAR2), pair(3, 0.4)]
    dropped = near_duplicates("minhash", records, np.eye(4), 0.8, seed=0)
    assert dropped.tolist() == [True, False, False, False]  # p000 and p002 are near-identical; p002 is closer


def test_embedding_near_duplicates_compare_the_same_side_only():
    v = np.array([[1.0, 0, 0], [0.999, 0.04, 0], [1.0, 0, 0], [0, 1.0, 0]])
    sides = ["instruction", "instruction", "response", "instruction"]
    assert embedding_neighbours(v, sides, 0.95) == [{1}, {0}, set(), set()]
    records = [pair(i, d, original=s) for i, (d, s) in enumerate(zip([0.2, 0.1, 0.05, 0.3], sides))]
    assert near_duplicates("embedding", records, v, 0.95, seed=0).tolist() == [True, False, False, False]


def test_a_chain_of_near_duplicates_keeps_every_pair_not_like_a_kept_one():
    # a~b and b~c, but a is not like c: a (closest) stays, b goes, c stays
    assert duplicates(np.array([0.1, 0.2, 0.3]), [{1}, {0, 2}, {1}]).tolist() == [False, True, False]


def test_near_duplicates_are_deterministic():
    texts = [NEAR, NEAR2, NEAR.replace("today", "now")] * 3
    assert minhash_neighbours(texts, 0.5, seed=3) == minhash_neighbours(texts, 0.5, seed=3)


def prune_project(tmp_path):
    """20 pairs in one cluster: p000 is the worst (the 5% fraction), p001 far (1.2), p002 and p003 near-identical."""
    records = [pair(0, 1.9), pair(1, 1.2), pair(2, 0.3, NEAR), pair(3, 0.2, NEAR2)] + [
        pair(i, 0.1 + 0.02 * i) for i in range(4, 20)
    ]
    vectors = np.random.default_rng(0).normal(size=(20, 8))
    vectors[2] = vectors[3] + 0.001
    write_records(tmp_path / "inst.jsonl", records)
    np.save(tmp_path / "emb.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    return {
        "dataset": tmp_path / "inst.jsonl",
        "embeddings": tmp_path / "emb.npy",
        "out": tmp_path / "filt.jsonl",
        "pruned": tmp_path / "pruned.jsonl",
        "metrics": tmp_path / "prune.json",
    }


@pytest.mark.parametrize("dedup,threshold", [("minhash", 0.8), ("embedding", 0.95)])
def test_the_stage_drops_and_counts_each_reason(tmp_path, dedup, threshold):
    files = prune_project(tmp_path)
    run(shipped_params(prune={"max_distance": 1.0, "dedup": dedup, "dedup_threshold": threshold}), **files)
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["pruned_by_reason"] == {
        "no_distance": 0,
        "cluster_fraction": 1,
        "max_distance": 1,
        "unsupported": 0,
        "near_duplicate": 1,
    }
    assert (metrics["in"], metrics["kept"], metrics["pruned"]) == (20, 17, 3)
    assert [r.id for r in read_records(files["pruned"])] == ["p000", "p001", "p002"]
    assert len(read_records(files["out"])) == 17


def test_the_controls_off_remove_nothing_extra(tmp_path):
    files = prune_project(tmp_path)
    params = shipped_params(prune={"max_distance": 2.0, "dedup": "off"})
    run(params, **files)
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["pruned_by_reason"] == {
        "no_distance": 0,
        "cluster_fraction": 1,
        "max_distance": 0,
        "unsupported": 0,
        "near_duplicate": 0,
    }
    assert [r.id for r in read_records(files["pruned"])] == ["p000"]


def test_a_bare_off_in_yaml_means_off():
    assert shipped_params(prune={"dedup": False}).prune.dedup == "off"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"max_distance": 2.5}, "prune.max_distance = 2.5: should be less than or equal to 2"),
        ({"dedup": "exact"}, "prune.dedup = 'exact': should be 'off', 'minhash' or 'embedding'"),
        ({"dedup_threshold": 0}, "prune.dedup_threshold = 0: should be greater than 0"),
    ],
)
def test_bad_quality_params_are_one_line(change, message):
    with pytest.raises(UserError) as e:
        shipped_params(prune=change)
    assert str(e.value) == f"params.yaml: {message}"


def test_minhash_misses_no_pair_just_above_the_threshold_whatever_the_seed():
    # plain LSH tuned at 0.8 misses a pair of Jaccard 0.83 about 4 times in 10; the tuned bands must not
    assert all(minhash_neighbours([NEAR, NEAR2], 0.8, seed=seed) == [{1}, {0}] for seed in range(30))


def test_the_stage_prunes_the_same_pairs_with_faiss_on_clear_topics(tmp_path):
    """100 pairs in 5 tight topics (k = 100 // 20 = 5): both clusterings find the topics, so the same pairs go."""
    files = prune_project(tmp_path)
    records = [pair(i, 0.1 + (i * 37 % 100) / 100) for i in range(100)]
    write_records(files["dataset"], records)
    np.save(files["embeddings"], blobs(100, 5, seed=1))
    pruned = {}
    for full_kmeans_max in (FULL, FAISS):
        run(shipped_params(prune={"full_kmeans_max": full_kmeans_max}), **files)
        assert json.loads(files["metrics"].read_text())["k"] == 5
        pruned[full_kmeans_max] = [r.id for r in read_records(files["pruned"])]
    assert len(pruned[FULL]) == 5 and pruned[FAISS] == pruned[FULL]


def test_pairs_whose_reconstruction_was_rejected_are_dropped_first(tmp_path):
    """No distance (embed found the reconstruction an echo, a copy or boilerplate): never ranked, always dropped."""
    files = prune_project(tmp_path)
    records = read_records(files["dataset"])
    records[5].distance = records[9].distance = None
    write_records(files["dataset"], records)
    run(shipped_params(), **files)
    metrics = json.loads(files["metrics"].read_text())
    pruned_ids = {r.id for r in read_records(files["pruned"])}
    assert {records[5].id, records[9].id} <= pruned_ids and metrics["pruned_by_reason"]["no_distance"] == 2
    assert metrics["in"] == len(records) and metrics["kept"] + metrics["pruned"] == len(records)
    assert all(r.distance is not None for r in read_records(files["out"]))


# --- the two sides: metrics apart, and a ranking fair to both -----------------------------------


def two_sides() -> tuple[np.ndarray, np.ndarray]:
    """One cluster of 40: 20 real-answer pairs (a long answer rebuilt: distances 0.8-1.0) beside 20 real-question
    pairs (a short question rebuilt: 0.1-0.3); the worst of each side is its last."""
    distances = np.concatenate([np.linspace(0.8, 1.0, 20), np.linspace(0.1, 0.3, 20)])
    return distances, np.array(["response"] * 20 + ["instruction"] * 20)


def test_pooled_ranking_prunes_one_side_and_per_side_prunes_both():
    distances, sides = two_sides()
    labels = np.zeros(40, dtype=int)
    assert np.flatnonzero(~prune(distances, labels, 0.05)).tolist() == [18, 19]  # both from the larger-distance side
    assert np.flatnonzero(~prune(distances, labels, 0.05, sides)).tolist() == [19, 39]  # each side's own worst


def test_per_side_takes_the_fraction_of_each_side_in_each_cluster():
    distances, sides = two_sides()
    labels = np.array([0, 1] * 20)  # two clusters, each with 10 pairs of each side
    dropped = np.flatnonzero(~prune(distances, labels, 0.1, sides))
    # 10% of each side (2 of 20), one from each cluster: its worst pair of that side
    assert dropped.tolist() == [18, 19, 38, 39]
    assert sorted((labels[i], sides[i]) for i in dropped) == [
        (0, "instruction"),
        (0, "response"),
        (1, "instruction"),
        (1, "response"),
    ]


def sided_project(tmp_path, rank: str, min_support: float = 0):
    """The stage on two_sides()'s 40 pairs in one topic (k = 39 scored // 20 = 1 cluster), one real-question pair
    without a distance (its reconstruction was rejected). Each generated answer (the real-question pairs,
    20 to 39) has a support: 0.0, 0.05, ... 0.95 in order."""
    files = prune_project(tmp_path)
    distances, sides = two_sides()
    records = [pair(i, float(d), original=s) for i, (d, s) in enumerate(zip(distances, sides))]
    records[25].distance = None
    for i in range(20, 40):
        records[i].support = round((i - 20) * 0.05, 2)
    write_records(files["dataset"], records)
    np.save(files["embeddings"], blobs(40, 1, seed=2))
    run(shipped_params(prune={"rank": rank, "min_support": min_support}), **files)
    return json.loads(files["metrics"].read_text()), {r.id for r in read_records(files["pruned"])}


def test_the_metrics_report_each_side_apart(tmp_path):
    metrics, pruned = sided_project(tmp_path, "pooled")
    assert metrics["k"] == 1 and metrics["rank"] == "pooled"
    assert pruned == {"p018", "p019", "p025"}  # 5% of the 39 scored pairs: 2, both real answers; p025 has no distance
    answer, question = metrics["by_side"]["real_answer"], metrics["by_side"]["real_question"]
    assert (answer["original"], answer["in"], answer["kept"], answer["pruned"]) == ("response", 20, 18, 2)
    assert (question["original"], question["in"], question["kept"], question["pruned"]) == ("instruction", 20, 19, 1)
    none = {"no_distance": 0, "cluster_fraction": 0, "max_distance": 0, "unsupported": 0, "near_duplicate": 0}
    assert answer["pruned_by_reason"] == {**none, "cluster_fraction": 2}
    assert question["pruned_by_reason"] == {**none, "no_distance": 1}
    distances, _ = two_sides()
    assert answer["distance_kept"]["median"] == round(float(np.median(distances[:18])), 5)
    assert answer["distance_pruned"]["median"] == round(float(np.median(distances[18:20])), 5)
    assert question["distance_kept"]["p95"] == round(float(np.percentile(np.delete(distances[20:], 5), 95)), 5)
    assert question["distance_pruned"] == {"mean": None, "median": None, "p95": None}  # its one pruned pair has no distance
    # the pooled keys stay as they were
    assert (metrics["in"], metrics["kept"], metrics["pruned"]) == (40, 37, 3)
    assert metrics["pruned_by_reason"]["cluster_fraction"] == 2 and metrics["pruned_by_reason"]["no_distance"] == 1


def test_per_side_rank_in_the_stage_prunes_both_sides(tmp_path):
    metrics, pruned = sided_project(tmp_path, "per_side")
    assert pruned == {"p019", "p039", "p025"}  # round(5% of 20) = 1 real answer, round(5% of 19) = 1 real question
    assert metrics["rank"] == "per_side"
    assert [metrics["by_side"][s]["pruned_by_reason"]["cluster_fraction"] for s in ("real_answer", "real_question")] == [1, 1]


def test_min_support_drops_the_kept_generated_answers_below_it_and_nothing_else(tmp_path):
    metrics, pruned = sided_project(tmp_path, "pooled", min_support=0.3)
    # supports 0.0 .. 0.25 are pairs 20..25; 25 has no distance (pruned for that first), so 20..24 go as unsupported
    assert pruned == {"p018", "p019", "p025", "p020", "p021", "p022", "p023", "p024"}
    assert metrics["pruned_by_reason"]["unsupported"] == 5 and metrics["pruned_by_reason"]["no_distance"] == 1
    question, answer = metrics["by_side"]["real_question"], metrics["by_side"]["real_answer"]
    assert question["pruned_by_reason"]["unsupported"] == 5 and answer["pruned_by_reason"]["unsupported"] == 0
    assert question["support_kept"]["pairs"] == 14 and question["support_kept"]["p25"] >= 0.3
    assert question["support_pruned"]["median"] == 0.125 and answer["support_kept"] == {
        "pairs": 0
    }  # real answers have none; pruned: 0 .. 0.25
    off, _ = sided_project(tmp_path / "off", "pooled")
    assert off["pruned_by_reason"]["unsupported"] == 0 and off["by_side"]["real_question"]["support_kept"]["pairs"] == 19


def test_a_bad_rank_is_one_line():
    with pytest.raises(UserError) as e:
        shipped_params(prune={"rank": "fair"})
    assert str(e.value) == "params.yaml: prune.rank = 'fair': should be 'pooled' or 'per_side'"
