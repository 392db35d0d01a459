"""Decontamination, the benchmark stage's bad input, the held-out task and the paired bootstrap.

The pipelines' real runs are in test_eval.py (the held-out benchmark on every method's adapter, and the
decontamination of a tiny Dolly run); here each stage meets bad input as a user would give it."""

import json

import numpy as np
import pytest
import yaml

from cycle_instruct.benchmarks import backend, heldout_rows, model_args
from cycle_instruct.bootstrap import paired_bootstrap
from cycle_instruct.decontaminate import Index, words
from cycle_instruct.records import Record, read_records, write_records

from conftest import run_stage, write_params

ITEM = "The quick brown fox jumps over the lazy dog while the farmer counts thirteen sheep in the meadow"


def decontaminate(root, against, ngram=13):
    write_params(root, {"decontaminate": {"against": against, "ngram": ngram}})
    out = ["--out", "clean.jsonl", "--dropped", "dropped.jsonl", "--metrics", "m.json"]
    return run_stage("decontaminate.py", "--dataset", "pairs.jsonl", *out, cwd=root)


@pytest.fixture
def project(tmp_path):
    pairs = [
        Record(id="a1", original="response", instruction="What happened?", response=f"Well. {ITEM.upper()}!", iteration=1),
        Record(id="a2", original="response", instruction="What is a fox?", response="A fox is a small wild canid.", iteration=1),
        Record(id="q1", original="instruction", instruction="Rewritten question?", response="An answer.", raw=ITEM, iteration=1),
    ]
    write_records(tmp_path / "pairs.jsonl", pairs)
    return tmp_path


@pytest.mark.slow
def test_decontaminate_drops_pairs_sharing_an_ngram_with_a_parquet_benchmark(project):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"q": [ITEM, "short one"], "a": ["x", "y"]}), project / "bench.parquet")
    result = decontaminate(project, [{"name": "pq", "file": "bench.parquet", "fields": ["q", "a"]}])
    assert result.returncode == 0, result.stderr
    dropped = [json.loads(line) for line in (project / "dropped.jsonl").read_text().splitlines()]
    # the answer in other case and punctuation, and the paragraph before reformat (raw): both the same 13 words
    assert [(d["id"], d["reason"], d["benchmark"]) for d in dropped] == [
        ("a1", "decontaminated", "pq"),
        ("q1", "decontaminated", "pq"),
    ]
    assert [r.id for r in read_records(project / "clean.jsonl")] == ["a2"]
    metrics = json.loads((project / "m.json").read_text())
    assert metrics["by_benchmark"]["pq"] == {**metrics["by_benchmark"]["pq"], "items": 2, "too_short": 1, "dropped": 2}


@pytest.mark.slow
def test_decontaminate_against_nothing_passes_every_pair_and_loads_nothing(project):
    write_params(project, {})
    args = ("--dataset", "pairs.jsonl", "--out", "clean.jsonl", "--dropped", "dropped.jsonl", "--metrics", "m.json")
    result = run_stage("decontaminate.py", *args, cwd=project, hide=("lm_eval", "torch", "transformers"))  # none loads
    assert result.returncode == 0, result.stderr
    assert (project / "clean.jsonl").read_text() == (project / "pairs.jsonl").read_text()
    assert json.loads((project / "m.json").read_text())["dropped"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "content, fields, message",
    [
        ('{"question": "q"}\n', ["question", "answer"], "bench.jsonl: item 1 has no field 'answer' (it has: question)"),
        ('{"question": "q"\n', ["question"], "bench.jsonl:1: not JSONL"),
        ("PAR1 not really", ["question"], "bench.parquet: not a Parquet file"),
    ],
)
def test_a_bad_benchmark_file_is_one_line_naming_it(project, content, fields, message):
    name = "bench.parquet" if content.startswith("PAR1") else "bench.jsonl"
    (project / name).write_text(content)
    result = decontaminate(project, [{"name": "b", "file": name, "fields": fields}])
    assert result.returncode == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (project / "clean.jsonl").exists()


def benchmark(root, tasks, include=(), hide=()):
    """The benchmark stage up to the point where a model would load (bad input stops it before)."""
    write_params(root, {"eval": {"benchmarks": {"tasks": tasks, "include": list(include)}}})
    (root / "adapter").mkdir(exist_ok=True)
    (root / "adapter/adapter.json").write_text('{"adapter": false, "train_pairs": 0, "method": "vanilla"}')
    (root / "task").mkdir(exist_ok=True)
    args = ["--method", "vanilla", "--base", "base", "--adapter", "adapter", "--tasks", "task"]
    return run_stage("eval_benchmark.py", *args, "--metrics", "m.json", "--samples", "s.json", cwd=root, hide=hide)


def one_line(result) -> str:
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    return result.stderr.strip()


@pytest.mark.slow
def test_lm_eval_missing_says_how_to_install(tmp_path):
    assert "pip install 'cycle-instruct[bench]'" in one_line(benchmark(tmp_path, ["cycle_heldout"], hide=("lm_eval",)))


@pytest.mark.slow
def test_a_task_file_that_does_not_parse_is_named(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/broken.yaml").write_text("task: broken\ndoc_to_text: [unclosed\n")
    line = one_line(benchmark(tmp_path, ["broken"], include=["mine"]))
    assert "mine/broken.yaml: the task file does not parse" in line


@pytest.mark.slow
def test_an_unknown_task_names_the_closest_and_a_hub_task_offline_names_the_setting(tmp_path):
    line = one_line(benchmark(tmp_path, ["mmlu_abstract_algebr"]))
    assert "eval.benchmarks.tasks: unknown lm-eval task 'mmlu_abstract_algebr'; closest: mmlu_abstract_algebra" in line
    line = one_line(benchmark(tmp_path, ["bigbench_crass_ai_multiple_choice"]))
    assert "task 'bigbench_crass_ai_multiple_choice' needs its dataset from the hub" in line and "model.allow_hub" in line


def test_heldout_task_gold_among_other_answers():
    test = [Record(id=f"g{i}", original="instruction", instruction=f"Q{i}?", response=f"answer {i}") for i in range(6)]
    rows = heldout_rows(test, seed=0)
    assert [r["question"] for r in rows] == [f"Q{i}?" for i in range(6)]
    for i, r in enumerate(rows):
        assert len(r["choices"]) == 4 and len(set(r["choices"])) == 4 and r["choices"][r["gold"]] == f"answer {i}"
    assert len({r["gold"] for r in rows}) > 1  # the gold answer is not always in one place
    assert yaml.safe_load(yaml.safe_dump(rows)) == rows


def test_paired_bootstrap_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.2, 200)
    better = paired_bootstrap(base + 0.05 + rng.normal(0, 0.01, 200), base, 2000, 0)
    assert better["excludes_zero"] and better["low"] > 0 and abs(better["diff"] - 0.05) < 0.005
    same = paired_bootstrap(base + rng.normal(0, 0.05, 200), base, 2000, 0)
    assert not same["excludes_zero"] and same["low"] < 0 < same["high"]
    # unpaired, the same shift would drown in the spread between items (sd 0.2): pairing is what finds it
    assert better["high"] - better["low"] < 0.01
    assert paired_bootstrap([1.0, None], [0.5, 0.5], 100, 0) is None


def test_words_ignore_case_and_punctuation():
    index = Index(3)
    assert index.add("b", [["Hello, World! again"], ["hi"]]) == 1
    assert words("HELLO world... Again") == ["hello", "world", "again"]
    assert index.match(Record(id="x", original="response", response="-- hello WORLD, again --")) == ("b", "hello world again")


def test_the_backend_follows_the_engine_and_takes_the_adapter():
    from conftest import shipped_params

    generate = shipped_params().generate
    assert backend("hf", True, True) == "hf" and backend("vllm", False, True) == "vllm"
    assert backend("auto", True, True) == "vllm" and backend("auto", False, True) == "hf" and backend("auto", True, False) == "hf"
    hf = model_args("hf", "base", "adapters/all_sft", generate, 8, cuda=False)
    assert hf == {"pretrained": "base", "device": "cpu", "dtype": "float32", "peft": "adapters/all_sft"}
    assert "peft" not in model_args("hf", "base", None, generate, 8, cuda=False)
    vllm = model_args("vllm", "base", "adapters/all_sft", generate, 12, cuda=True)
    assert vllm["lora_local_path"] == "adapters/all_sft" and vllm["max_lora_rank"] == 16
