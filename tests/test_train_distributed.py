"""train.num_processes: 2 processes (gloo on CPU) train the embedded model as 1 process does."""

import json

import pytest

from cycle_instruct.models import has_adapter, load_model
from cycle_instruct.params import load_params
from cycle_instruct.records import Record, write_records
from cycle_instruct.steps.train import run

from conftest import ROOT, write_params

pytestmark = pytest.mark.slow  # accelerate launches: not in make unit


def demo_pairs(n: int) -> list[Record]:
    """Question/answer paragraphs of the demo corpus, as relabel_questions would pair them."""
    paragraphs = [p.strip() for p in (ROOT / "data/raw/faq_01.txt").read_text().split("\n\n") if p.strip()]
    pairs = [(q, a) for q, a in zip(paragraphs[::2], paragraphs[1::2]) if "?" in q]
    return [Record(id=f"a{i}", original="response", instruction=q, response=a, iteration=1) for i, (q, a) in enumerate(pairs[:n])]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_distributed")
    write_records(folder / "pairs.jsonl", demo_pairs(8))
    return folder


def _train(project, base, processes, monkeypatch):
    """The train_fwd recipe as dvc runs it, in the project folder (the processes read its params.yaml)."""
    out = project / f"p{processes}"
    write_params(
        project,
        {
            "train": {
                "num_processes": processes,
                "micro_batch": 2,
                "effective_batch": 4,
                "cutoff": 64,
                "epochs": 1,
                "lora_dropout": 0.0,
            }
        },
    )
    monkeypatch.chdir(project)
    run(
        load_params(),
        "fwd",
        str(base),
        str(project / "pairs.jsonl"),
        str(project / "none"),
        str(out / "m_qa"),
        [str(ROOT / "prompts/forward.txt")],
        str(out / "metrics.json"),
        str(out / "curve.json"),
        str(out / "timing.json"),
    )
    return out, json.loads((out / "curve.json").read_text()), json.loads((out / "metrics.json").read_text())


def test_two_processes_train_the_same_steps_as_one(project, embedded_base, monkeypatch):
    one, curve1, metrics1 = _train(project, embedded_base, 1, monkeypatch)
    two, curve2, metrics2 = _train(project, embedded_base, 2, monkeypatch)
    assert metrics1["processes"] == 1 and metrics2["processes"] == 2
    assert len(curve2) == len(curve1) == metrics2["optimizer_steps"] == 2  # 8 pairs / effective batch 4, global
    # same order, same adapter at the start, no dropout: each step's loss is the same sum, split over two processes
    assert [c["loss"] for c in curve2] == pytest.approx([c["loss"] for c in curve1], rel=1e-3)
    assert metrics2["real_tokens"] == metrics1["real_tokens"]
    for out, metrics in ((one, metrics1), (two, metrics2)):  # process 0 writes the rate with the timing, not the metrics
        assert "tokens_per_s" not in metrics and json.loads((out / "timing.json").read_text())["tokens_per_s"] > 0
    assert has_adapter(two / "m_qa") and type(load_model(embedded_base, two / "m_qa")).__name__ == "PeftModelForCausalLM"
