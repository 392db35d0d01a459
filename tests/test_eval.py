"""The evaluation pipeline end to end, CI profile: real DVC, real models, a dozen Dolly pairs."""

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import TINY, dvc, make_project, ran_stages, run_stage

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"
METHODS = [
    "vanilla",
    "all_sft",
    "rand20",
    "cycle_filt_1",
]  # clust20 and cycle_inst_1 are built (below), not fine-tuned on: the same stages as rand20 and cycle_filt_1
EVAL_TINY = {
    **TINY,
    "iterations": {"1": {"prev": "0"}},
    "segment": {"input": "data/raw/dolly.jsonl", "format": "instructions", "test_size": 3},
    "eval": {
        "sft": {"vanilla": 0, "all_sft": 100},
        "seeds": {"rand20": {"select": "random", "percent": 20}, "clust20": {"select": "cluster", "percent": 20}},
        "methods": METHODS,
        "compare_to": ["all_sft", "rand20"],
        "bootstrap": 2000,
    },
}


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, dvc_cache):
    root = make_project(
        tmp_path_factory.mktemp("eval"), EVAL_TINY, dvc_cache, {"data/raw/dolly.jsonl": (DATA / "dolly.jsonl").read_text()}
    )
    method = dvc("repro", cwd=root)  # the evaluation reads the method's outputs; it never builds them
    assert method.returncode == 0, method.stdout[-3000:] + method.stderr[-3000:]
    run = dvc("--cd", "eval", "repro", cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return root, run.stdout


def test_every_method_is_scored_in_the_report(evaluated):
    root, output = evaluated
    stages = ran_stages(output)
    assert {f"downstream@{m}" for m in METHODS} <= set(stages) and stages[-1] == "report"
    report = (root / "eval/report.md").read_text()
    for method in METHODS:
        row = next(line for line in report.splitlines() if line.startswith(f"| {method} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c != "-" for c in cells[1:6]), row  # pairs, answer/question cosine and ROUGE-L
    vanilla = json.loads((root / "eval/metrics/downstream/vanilla.json").read_text())
    all_sft = json.loads((root / "eval/metrics/downstream/all_sft.json").read_text())
    assert vanilla["train_pairs"] == 0 and all_sft["train_pairs"] == 9
    assert 0 <= all_sft["answer"]["rouge_l"] <= 1 and -1 <= all_sft["question"]["cosine"] <= 1
    assert all_sft["answer"]["cosine_sem"] >= 0 and "rejected_by_reason" in all_sft["question"]
    assert "±" in report and "standard error" in report
    # a rejected output is still scored as written, so every held-out pair has both predictions
    predictions = read_jsonl(root / "eval/data/predictions/all_sft.jsonl")
    assert sorted(p["original"] for p in predictions) == ["instruction"] * 3 + ["response"] * 3


def test_the_dolly_track_runs_end_to_end(evaluated):
    """The method's own run here is the Dolly track (test_tracks.py runs the others)."""
    root, _ = evaluated
    gold = read_jsonl(root / "data/segments/gold.jsonl")
    inst = read_jsonl(root / "data/final/cycle_inst.jsonl")
    filt, pruned = read_jsonl(root / "data/final/cycle_filt.jsonl"), read_jsonl(root / "data/final/pruned.jsonl")
    assert gold and inst and len(filt) + len(pruned) == len(inst)
    assert all(p["instruction"] and p["response"] and p["iteration"] == 1 for p in inst)
    held_back = {g["response"] if g["original"] == "instruction" else g["instruction"] for g in gold}  # never reach the loop
    assert not held_back & {p["response"] if p["original"] == "response" else p["instruction"] for p in inst}
    export = read_jsonl(root / "data/export/messages.jsonl")
    assert len(export) == len(filt) and all(m["messages"][0]["role"] == "user" for m in export)


def test_no_method_sees_the_test_split(evaluated):
    root, _ = evaluated
    test = read_jsonl(root / "data/segments/test.jsonl")
    held = {t["instruction"] for t in test} | {t["response"] for t in test}
    assert len(test) == 3
    for dataset in (root / "eval/data/datasets").glob("*.jsonl"):
        for pair in read_jsonl(dataset):
            assert pair["instruction"] not in held and pair["response"] not in held, dataset.name


def test_baselines_are_built_from_seeds(evaluated):
    root, _ = evaluated
    gold = {g["id"]: g for g in read_jsonl(root / "data/segments/gold.jsonl")}
    for name in ("rand20", "clust20"):
        metrics = json.loads((root / f"eval/metrics/backtranslate/{name}.json").read_text())
        assert metrics["seeds"] == 2 and metrics["rest"] == 7
        pairs = read_jsonl(root / f"eval/data/datasets/{name}.jsonl")
        seeds = [
            p for p in pairs if p["instruction"] == gold[p["id"]]["instruction"] and p["response"] == gold[p["id"]]["response"]
        ]
        assert len(seeds) >= 2 and len(pairs) == metrics["pairs"]


def test_quality_and_plots(evaluated):
    root, _ = evaluated
    quality = json.loads((root / "eval/metrics/quality.json").read_text())
    assert {"all_sft", "rand20", "cycle_inst_1", "cycle_filt_1"} <= set(quality)
    assert "pruned_relevance" in quality["cycle_filt_1"] and "vanilla" not in quality
    distances = json.loads((root / "eval/plots/distances.json").read_text())
    total = sum(b["kept"] + b["pruned"] for b in distances)  # every pair with a distance, kept or pruned
    assert len(distances) == 20 and total == sum(
        r["distance"] is not None for r in read_jsonl(root / "eval/data/datasets/cycle_inst_1.jsonl")
    )
    trend = json.loads((root / "eval/plots/iterations.json").read_text())
    assert [(t["iteration"], t["method"]) for t in trend] == [(1, "cycle_filt")]  # the methods fine-tuned on (METHODS)
    shown = dvc("--cd", "eval", "plots", "show", "--json", cwd=root)  # what `dvc plots show` draws from these files
    assert shown.returncode == 0, shown.stderr[-2000:]
    plots = json.loads(shown.stdout)["data"]
    histogram = next(v for k, v in plots.items() if k.startswith("Cycle-Filt, last iteration"))
    assert {p["field"] for p in histogram[0]["content"]["data"]["values"]} == {"kept", "pruned"}
    assert plots["plots/iterations.json"][0]["content"]["data"]["values"]


def test_the_evaluation_is_its_own_project_and_its_repro_is_idempotent(evaluated):
    root, _ = evaluated
    again = dvc("--cd", "eval", "repro", cwd=root)
    assert again.returncode == 0 and ran_stages(again.stdout) == []
    main = dvc("repro", cwd=root)
    assert main.returncode == 0 and ran_stages(main.stdout) == []
    assert "eval" not in dvc("dag", "--dot", cwd=root).stdout


def test_every_method_is_benchmarked_through_lm_eval(evaluated):
    """The real harness on the real adapters: the held-out task (multiple choice, offline) on every method's model."""
    root, output = evaluated
    assert {f"benchmark@{m}" for m in METHODS} <= set(ran_stages(output))
    task = read_jsonl(root / "eval/data/benchmarks/task/cycle_heldout.jsonl")
    test = read_jsonl(root / "data/segments/test.jsonl")
    assert [t["question"] for t in task] == [t["instruction"] for t in test]
    assert all(
        len(t2["choices"]) == 3 and t["response"].split()[:5] == t2["choices"][t2["gold"]].split()[:5]
        for t, t2 in zip(test, task)
    )
    tuned = set()
    for method in METHODS:
        result = json.loads((root / f"eval/metrics/benchmarks/{method}.json").read_text())
        acc = result["tasks"]["cycle_heldout"]
        # a method with no training pairs (vanilla; a Cycle-Filt that kept none at CI size) is the untuned base
        assert result["backend"] == "hf" and result["adapter"] == (result["train_pairs"] > 0)
        assert result["documents"]["cycle_heldout"] == 3
        assert acc["acc"] in (0, 0.3333, 0.6667, 1) and acc["acc_stderr"] >= 0, result
        adapter = root / f"eval/data/adapters/{method}"
        assert (adapter / "adapter_config.json").exists() == result["adapter"]  # a PEFT adapter lm-eval loaded
        tuned |= {method} if result["adapter"] else set()
    assert "all_sft" in tuned and "vanilla" not in tuned
    report = (root / "eval/report.md").read_text()
    assert "## Benchmarks (lm-evaluation-harness)" in report and "cycle_heldout acc" in report
    shown = dvc("--cd", "eval", "metrics", "show", "--json", cwd=root)
    assert shown.returncode == 0 and "cycle_heldout" in shown.stdout


def test_report_compares_methods_paired(evaluated):
    root, _ = evaluated
    report = (root / "eval/report.md").read_text()
    comparisons = report.split("## Paired comparisons", 1)[1]
    assert "vs `all_sft`:" in comparisons and "vs `rand20`:" in comparisons and "paired bootstrap" in comparisons
    row = next(line for line in comparisons.splitlines() if line.startswith("| cycle_filt_1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")[1:]]
    assert len(cells) >= 6 and all(re.fullmatch(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]( \*)?", c) for c in cells), row
    supports = comparisons.split("### What the data supports", 1)[1]
    assert "- answer cos, against `all_sft`:" in supports and "within noise" not in report
    # the difference is the mean of the per-item differences of the two methods' scores
    a, b = (json.loads((root / f"eval/data/scores/{m}.json").read_text()) for m in ("cycle_filt_1", "all_sft"))
    diff = sum(x - y for x, y in zip(a["answer.cosine"], b["answer.cosine"])) / len(a["ids"])
    assert f"{diff:+.3f}" == cells[0].split()[0] or abs(diff - float(cells[0].split()[0])) < 0.0011


def test_decontamination_drops_exactly_the_pairs_made_from_benchmark_items(evaluated):
    """Three corpus items planted in a local benchmark file (with three items the corpus does not hold): the stage drops
    the pairs made from them and no other, and under dvc repro only it and what follows it re-run. Runs last: it
    changes params. The pairs are the run's Cycle-Inst pairs (at CI size the filter may keep none of them)."""
    root, _ = evaluated
    corpus = read_jsonl(root / "data/raw/dolly.jsonl")
    inst, filt = read_jsonl(root / "data/final/cycle_inst.jsonl"), read_jsonl(root / "data/final/cycle_filt.jsonl")
    line_of = lambda pair: int(pair["source"]["doc"].rsplit(":", 1)[1])  # noqa: E731  (data/raw/dolly.jsonl:<line>)

    def matchable(pair):  # the corpus field the pair's real side came from holds 13 words in a row
        fields = ["instruction", "context"] if pair["original"] == "instruction" else ["response"]
        return max(len(re.findall(r"\w+", corpus[line_of(pair) - 1][f] or "")) for f in fields) >= 13

    planted = sorted({line_of(p) for p in inst if matchable(p)})[:3]
    assert len(planted) == 3, inst
    unrelated = "about the orbital mechanics of comets and the long bright tails they grow as they pass near the sun?"
    items = [corpus[line - 1] for line in planted] + [
        {"instruction": f"Benchmark question {i} {unrelated}", "context": "", "response": "x"} for i in range(3)
    ]
    (root / "bench").mkdir()
    (root / "bench/mine.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    params = yaml.safe_load((root / "params.yaml").read_text())
    against = [{"name": "mine", "file": "bench/mine.jsonl", "fields": ["instruction", "context", "response"]}]
    params["decontaminate"]["against"] = against
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    made_from = lambda pairs: {p["id"] for p in pairs if line_of(p) in planted and matchable(p)}  # noqa: E731
    expected = made_from(inst)
    assert len(expected) >= 3
    out = ["--out", "decon/clean.jsonl", "--dropped", "decon/dropped.jsonl", "--metrics", "decon/m.json"]
    result = run_stage("decontaminate.py", "--dataset", "data/final/cycle_inst.jsonl", *out, cwd=root)
    assert result.returncode == 0, result.stderr
    dropped = read_jsonl(root / "decon/dropped.jsonl")
    assert {d["id"] for d in dropped} == expected and {(d["reason"], d["benchmark"]) for d in dropped} == {
        ("decontaminated", "mine")
    }
    assert {p["id"] for p in read_jsonl(root / "decon/clean.jsonl")} == {p["id"] for p in inst} - expected
    metrics = json.loads((root / "decon/m.json").read_text())
    assert metrics["by_benchmark"]["mine"] == {
        **metrics["by_benchmark"]["mine"],
        "items": 6,
        "too_short": 0,
        "dropped": len(expected),
    }
    # the pipeline: decontaminate re-runs on the params change, the card reports its counts
    run = dvc("repro", cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ran = ran_stages(run.stdout)
    assert ran[0] == "decontaminate" and "export" in ran and "view" in ran, ran  # both read its metrics
    assert set(ran) <= {"decontaminate", "judge", "export", "view"}, ran
    in_filt = made_from(filt)
    assert {d["id"] for d in read_jsonl(root / "data/decontaminate/dropped.jsonl")} == in_filt
    card = (root / "data/export/README.md").read_text()
    assert f"| `mine` | 6 | 0 | {len(in_filt)} |" in card
    assert len(read_jsonl(root / "data/export/messages.jsonl")) == len(filt) - len(in_filt)
