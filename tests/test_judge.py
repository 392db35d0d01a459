"""The optional judge stage: off, a pass-through that loads no model; on, the embedded model
rates each pair with prompts/judge.txt and pairs below judge.min_score are set aside."""

import json

import pytest

from cycle_instruct.records import Record, read_records, write_records
from cycle_instruct.steps.judge import run

from conftest import ROOT, shipped_params

pytestmark = pytest.mark.slow  # the judge on a real model: not in make unit

PAIRS = [
    Record(
        id="a1",
        original="response",
        instruction="What is the capital of France?",
        response="Paris is the capital of France.",
        iteration=1,
        distance=0.2,
    ),
    Record(
        id="a2",
        original="response",
        instruction="How many legs does a spider have?",
        response="A spider has eight legs.",
        iteration=1,
        distance=0.3,
    ),
    Record(
        id="q1",
        original="instruction",
        instruction="What is the boiling point of water?",
        response="Bananas are yellow.",
        iteration=1,
        distance=0.9,
    ),
    Record(
        id="q2",
        original="instruction",
        instruction="Who wrote Hamlet?",
        response="The 2012 NFL season saw the 2012 NFL season win.",
        iteration=1,
        distance=1.1,
    ),
]


def _run(tmp_path, base, **judge):
    write_records(tmp_path / "filt.jsonl", PAIRS)
    params = shipped_params(judge=judge, generate={"engine": "hf"})
    paths = {name: tmp_path / f"{name}.jsonl" for name in ("out", "rejected")}
    run(params, base, tmp_path / "filt.jsonl", paths["out"], paths["rejected"], [ROOT / "prompts/judge.txt"], tmp_path / "m.json")
    return read_records(paths["out"]), read_records(paths["rejected"]), json.loads((tmp_path / "m.json").read_text())


def test_off_passes_every_pair_through_without_a_model(tmp_path):
    kept, rejected, metrics = _run(tmp_path, tmp_path / "no-model-here", enabled=False, min_score=5)
    assert kept == PAIRS and rejected == []
    assert metrics == {"enabled": False, "in": 4, "kept": 4, "rejected": 0}


def test_on_sets_aside_exactly_the_pairs_below_min_score(tmp_path, embedded_base):
    kept, rejected, metrics = _run(tmp_path, embedded_base, enabled=True, min_score=4)
    assert sorted(r.id for r in kept + rejected) == sorted(r.id for r in PAIRS)
    rated = {k: v for k, v in metrics["scores"].items() if k != "none"}
    assert sum(metrics["scores"].values()) == 4 and rated  # the model gives most pairs a digit
    assert metrics["kept"] == len(kept) == sum(v for k, v in rated.items() if int(k) >= 4)
    assert sum(metrics["rejected_by_reason"].values()) == len(rejected) == metrics["rejected"]
    assert metrics["rejected_by_reason"].get("no_score", 0) == metrics["scores"].get("none", 0)
