import json

from cycle_instruct.records import Record, write_records
from cycle_instruct.steps import eval_quality

from conftest import ROOT, shipped_params


def test_quality_scores_relevance_pruned_pairs_and_the_optional_judge(tmp_path, tiny_model_dir):
    good = Record(
        id="q1",
        original="instruction",
        instruction="How do I boil an egg?",
        response="Put the egg in boiling water for eight minutes.",
    )
    off_topic = Record(
        id="q2", original="instruction", instruction="How do I boil an egg?", response="The stock market closed higher today."
    )
    write_records(tmp_path / "datasets/cycle_filt_1.jsonl", [good])
    write_records(tmp_path / "datasets/vanilla.jsonl", [])
    write_records(tmp_path / "cycle/1/pruned.jsonl", [off_topic])
    params = shipped_params(eval={"judge": True}, generate={"batch_size": 2, "temperature": 0, "max_new_tokens": 4})
    eval_quality.run(
        params, tiny_model_dir, tmp_path / "datasets", tmp_path / "cycle", [ROOT / "prompts/judge.txt"], tmp_path / "q.json"
    )
    scores = json.loads((tmp_path / "q.json").read_text())
    assert "vanilla" not in scores  # an empty dataset has nothing to score
    filt = scores["cycle_filt_1"]
    assert filt["pairs"] == 1 and filt["pruned_pairs"] == 1
    assert filt["relevance"] > filt["pruned_relevance"]  # the on-topic answer is more relevant
    assert "judge" in filt  # a random tiny model may not answer with a digit: then the mean is None
