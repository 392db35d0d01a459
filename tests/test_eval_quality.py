import json

from cycle_instruct.records import Record, write_records

from conftest import run_stage


def test_quality_scores_relevance_pruned_pairs_and_the_optional_judge(tmp_path, tiny_model_dir):
    good = Record(id="q1", original="instruction", instruction="How do I boil an egg?", response="Put the egg in boiling water for eight minutes.")
    off_topic = Record(id="q2", original="instruction", instruction="How do I boil an egg?", response="The stock market closed higher today.")
    write_records(tmp_path / "datasets/cycle_filt_1.jsonl", [good])
    write_records(tmp_path / "datasets/vanilla.jsonl", [])
    write_records(tmp_path / "cycle/1/pruned.jsonl", [off_topic])
    (tmp_path / "params.yaml").write_text(
        "model: {embedder: all-MiniLM-L6-v2}\neval: {judge: true}\n"
        "generate: {batch_size: 2, temperature: 0, max_new_tokens: 4, seed: 0}\n"
    )
    result = run_stage("eval_quality.py", "--base", str(tiny_model_dir), "--datasets", "datasets", "--pruned", "cycle", "--metrics", "q.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads((tmp_path / "q.json").read_text())
    assert "vanilla" not in scores  # an empty dataset has nothing to score
    filt = scores["cycle_filt_1"]
    assert filt["pairs"] == 1 and filt["pruned_pairs"] == 1
    assert filt["relevance"] > filt["pruned_relevance"]  # the on-topic answer is more relevant
    assert "judge" in filt  # a random tiny model may not answer with a digit: then the mean is None
