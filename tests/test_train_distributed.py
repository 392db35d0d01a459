"""train.num_processes: 2 processes (gloo on CPU) train the embedded model as 1 process does."""

import json
import os
import re
import subprocess
import sys

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.models import has_adapter, load_model
from cycle_instruct.multinode import free_port, launch_options
from cycle_instruct.params import load_params
from cycle_instruct.records import Record, write_records
from cycle_instruct.steps.train import run

from conftest import ROOT, options, write_params

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


TRAIN = {"micro_batch": 2, "effective_batch": 4, "cutoff": 64, "epochs": 1, "lora_dropout": 0.0}


def _train(project, base, processes, monkeypatch):
    """The train_fwd recipe as dvc runs it, in the project folder (the processes read its params.yaml)."""
    out = project / f"p{processes}"
    write_params(project, {"train": {**TRAIN, "num_processes": processes}})
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


@pytest.fixture(scope="module")
def one_process(project, embedded_base):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _train(project, embedded_base, 1, monkeypatch)


def test_two_processes_train_the_same_steps_as_one(project, embedded_base, one_process, monkeypatch):
    one, curve1, metrics1 = one_process
    two, curve2, metrics2 = _train(project, embedded_base, 2, monkeypatch)
    assert metrics1["processes"] == 1 and metrics2["processes"] == 2
    assert len(curve2) == len(curve1) == metrics2["optimizer_steps"] == 2  # 8 pairs / effective batch 4, global
    # same order, same adapter at the start, no dropout: each step's loss is the same sum, split over two processes
    assert [c["loss"] for c in curve2] == pytest.approx([c["loss"] for c in curve1], rel=1e-3)
    assert metrics2["real_tokens"] == metrics1["real_tokens"]
    for out, metrics in ((one, metrics1), (two, metrics2)):  # process 0 writes the rate with the timing, not the metrics
        assert "tokens_per_s" not in metrics and json.loads((out / "timing.json").read_text())["tokens_per_s"] > 0
    assert has_adapter(two / "m_qa") and type(load_model(embedded_base, two / "m_qa")).__name__ == "PeftModelForCausalLM"


def _stage_args(project, base, out) -> list[str]:
    return options(
        base=base,
        pairs=project / "pairs.jsonl",
        previous=project / "none",
        out=out / "m_qa",
        prompts=ROOT / "prompts/forward.txt",
        metrics=out / "metrics.json",
        curve=out / "curve.json",
        timing=out / "timing.json",
    )


def _own_core(rank: int):
    cores = sorted(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cores[rank % len(cores)]})


def test_two_machines_train_the_same_steps_as_one_process(tmp_path, project, embedded_base, one_process):
    """train.num_machines: 2, as two machines on this host: the same train_fwd stage started twice, each
    with its NODE_RANK, both finding the main one at MASTER_ADDR:MASTER_PORT (gloo, one process each)."""
    _, curve1, metrics1 = one_process
    folder = tmp_path / "machines"
    folder.mkdir()
    write_params(folder, {"train": {**TRAIN, "num_processes": 1, "num_machines": 2}})
    out = folder / "out"
    main = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    machines = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "stages/train_fwd.py"), *_stage_args(project, embedded_base, out)],
            cwd=folder,
            env={**os.environ, **main, "NODE_RANK": str(rank)},
            preexec_fn=_own_core(rank),  # a machine of its own: one core each, so one thread per process
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    logs = [m.communicate(timeout=600)[0] for m in machines]
    assert [m.returncode for m in machines] == [0, 0], "\n".join(log[-2000:] for log in logs)
    curve2, metrics2 = (json.loads((out / name).read_text()) for name in ("curve.json", "metrics.json"))
    assert metrics2["processes"] == 2 and metrics2["optimizer_steps"] == len(curve2) == len(curve1) == 2
    assert [c["loss"] for c in curve2] == pytest.approx([c["loss"] for c in curve1], rel=1e-3)
    assert metrics2["real_tokens"] == metrics1["real_tokens"]
    assert has_adapter(out / "m_qa")


def test_several_machines_without_a_main_address_is_one_line(tmp_path, project, embedded_base, monkeypatch):
    """The stage stops with one line before it launches anything (the stage's own UserError; its exit is tested elsewhere)."""
    write_params(tmp_path, {"train": {**TRAIN, "num_processes": 1, "num_machines": 2}})
    for name in ("MASTER_ADDR", "MASTER_PORT", "SLURM_NODEID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="^train.num_machines is 2, but MASTER_ADDR is not set: set it on every machine"):
        run(load_params(), "fwd", str(embedded_base), str(project / "pairs.jsonl"), str(project / "none"), str(out / "m_qa"),
            [str(ROOT / "prompts/forward.txt")], str(out / "metrics.json"), str(out / "curve.json"), str(out / "timing.json"))  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize(
    "env, words",
    [
        ({"MASTER_ADDR": "10.0.0.1"}, "train.num_machines is 2, but this machine's rank is not set"),
        ({"MASTER_ADDR": "10.0.0.1", "NODE_RANK": "2"}, "NODE_RANK=2: a machine's rank must be 0 to 1"),
        ({"MASTER_ADDR": "10.0.0.1", "SLURM_NODEID": "x"}, "SLURM_NODEID=x: a machine's rank must be 0 to 1"),
        ({"MASTER_ADDR": "10.0.0.1", "NODE_RANK": "1", "MASTER_PORT": "0"}, "MASTER_PORT=0: the main machine's port"),
    ],
)
def test_a_machine_that_cannot_tell_where_it_stands_is_one_line(monkeypatch, env, words):
    for name in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "SLURM_NODEID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match=re.escape(words)):
        launch_options(2)


def test_slurm_places_the_machine(monkeypatch):
    monkeypatch.delenv("NODE_RANK", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.setenv("MASTER_ADDR", "node-a")
    monkeypatch.setenv("SLURM_NODEID", "1")
    assert launch_options(2) == [
        "--num_machines", "2", "--machine_rank", "1", "--main_process_ip", "node-a", "--main_process_port", "29500"
    ]  # fmt: skip
