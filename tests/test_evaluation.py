import numpy as np
import pytest

from cycle_instruct.distances import distance_histogram
from cycle_instruct.evaluation import cluster_seeds, cosine_rows, mean, only_side, sem, take_share
from cycle_instruct.overlap import rouge_l
from cycle_instruct.records import Record


@pytest.mark.parametrize(
    "candidate,reference,expected",
    [
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("", "anything", 0.0),
        ("completely different words", "the cat sat", 0.0),
        ("the cat on mat", "the cat sat on the mat", 2 * (4 / 4) * (4 / 6) / (4 / 4 + 4 / 6)),  # LCS = 4
        ("The CAT, sat!", "the cat sat", 1.0),
    ],
)
def test_rouge_l_is_lcs_f1_over_words(candidate, reference, expected):
    assert rouge_l(candidate, reference) == pytest.approx(expected)


def test_take_share_is_seeded_ordered_and_never_empty_unless_zero():
    items = list(range(100))
    assert take_share(items, 80, seed=0) == take_share(items, 80, seed=0)
    assert len(take_share(items, 80, seed=0)) == 80 and take_share(items, 80, seed=0) == sorted(take_share(items, 80, seed=0))
    assert take_share(items, 80, seed=0) != take_share(items, 80, seed=1)
    assert len(take_share(list(range(10)), 5, seed=0)) == 1
    assert take_share(items, 0, seed=0) == [] and take_share(items, 100, seed=0) == items


def test_cluster_seeds_pick_one_central_member_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    points = np.concatenate([c + rng.normal(0, 0.5, (8, 2)) for c in centres])
    seeds = cluster_seeds(points, 3, seed=0)
    assert sorted(i // 8 for i in seeds) == [0, 1, 2]  # one seed from each group
    for i in seeds:
        group = points[(i // 8) * 8 : (i // 8) * 8 + 8]
        assert np.linalg.norm(points[i] - group.mean(0)) <= np.median(np.linalg.norm(group - group.mean(0), axis=1))


def test_only_side_hides_the_other_side():
    pair = Record(id="q1", original="instruction", instruction="Why?", response="Because.", source={"doc": "d", "paragraph": 0})
    assert only_side(pair, "response") == Record(
        id="q1", original="response", response="Because.", source={"doc": "d", "paragraph": 0}
    )


def test_small_helpers():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert cosine_rows(a, np.array([[1.0, 0.0], [1.0, 0.0]])).tolist() == [1.0, 0.0]
    bins = distance_histogram([0.05, 0.15, 0.16], [1.95])
    assert len(bins) == 20 and [b["kept"] for b in bins[:2]] == [1, 2] and bins[-1] == {"distance": 1.9, "kept": 0, "pruned": 1}
    assert mean([1, None, 2]) == 1.5 and mean([]) is None
    assert sem([1.0, 2.0, 3.0, None]) == 0.5774 and sem([1.0]) is None  # std 1 over sqrt(3)


def test_the_iteration_trend_has_cycle_inst_then_cycle_filt_per_iteration_of_the_chain():
    from cycle_instruct.report import iteration_trend

    score = lambda a: {"answer": {"cosine": a, "rouge_l": a / 2}, "question": {"cosine": a / 4}}  # noqa: E731
    rows = {"cycle_filt_2": score(0.6), "cycle_inst_1": score(0.3), "cycle_filt_1": score(0.4), "all_sft": score(0.9)}
    trend = iteration_trend(rows, [1, 2])
    assert [(t["iteration"], t["method"]) for t in trend] == [(1, "cycle_inst"), (1, "cycle_filt"), (2, "cycle_filt")]
    assert trend[2] == {
        "iteration": 2,
        "method": "cycle_filt",
        "answer_cosine": 0.6,
        "question_cosine": 0.15,
        "answer_rouge_l": 0.3,
    }
