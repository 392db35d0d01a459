"""metrics/summary.json: the run in keys that do not depend on the number of iterations."""

import json

from cycle_instruct.summary import summarize_run


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_only_the_iterations_that_ran_count(tmp_path):
    """Taking iteration 2 out of params.yaml leaves its metrics behind (DVC deletes no outputs of a
    stage that is gone): they must not count in the summary of a one-iteration run."""
    write(tmp_path / "segment.json", {"questions": 40, "answers": 40})
    write(tmp_path / "reformat.json", {"tokens_generated": 100})
    write(tmp_path / "embed.json", {"pairs": 75, "distance": {"mean": 0.7}, "tokens_generated": 10})
    write(tmp_path / "prune.json", {"kept": 69, "pruned": 6})
    for k, tokens in (("1", 1000), ("2", 50000)):  # 2: left over from an earlier run
        for step in ("relabel_answers", "relabel_questions"):
            write(tmp_path / f"iterations/{k}/{step}.json", {"out": 36, "rejected": 4, "tokens_generated": tokens})
        for step in ("train_bwd", "train_fwd"):
            write(tmp_path / f"iterations/{k}/{step}.json", {"mean_loss_last_epoch": 1.5})
    one = summarize_run(tmp_path, [1])
    assert one["iterations"] == 1 and one["tokens_generated"] == 100 + 10 + 2 * 1000
    two = summarize_run(tmp_path, [1, 2])
    assert two["tokens_generated"] == 100 + 10 + 2 * 1000 + 2 * 50000
