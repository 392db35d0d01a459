"""Hostile input on the model and run side: a model folder that would run its own code, a prompt
too long for the model, a stage whose dvc is terminated, a base model changed in place.

Each case runs a real stage the way dvc does (a subprocess in a project folder) and asserts what a
user sees: exit code 1 and one `error:` line naming the file and what to do, no traceback, no outputs.
"""

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, options, run_stage, write_params

pytestmark = pytest.mark.slow  # stage processes that load models, and a SIGTERM to dvc repro: not in make unit

PREPARE_BASE = ("--out", "base", "--iteration0", "it0", "--metrics", "m.json", "--timing", "t.json")
PREPARE_BASE_OUTPUTS = ["base", "it0", "m.json", "t.json"]


def _assert_one_line_error(run, words, folder: Path, outputs):
    """Exit 1, one `error:` line, last (progress bars of loading may come before it), no traceback, no outputs."""
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and run.stderr.rstrip().endswith(errors[0]), run.stderr[-3000:]
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert not [o for o in outputs if (folder / o).exists()]


def remote_code_model(tiny: Path, folder: Path, marker: Path) -> Path:
    """The tiny model dressed as a custom architecture: its config.json maps the auto classes to the
    folder's own .py files, which write `marker` when they are imported."""
    shutil.copytree(tiny, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="evilnet",
        architectures=["EvilModel"],
        auto_map={"AutoConfig": "configuration_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilModel"},
    )
    (folder / "config.json").write_text(json.dumps(config))
    plant = f"from pathlib import Path\nPath({str(marker)!r}).write_text('the model folder ran its own code')\n"
    (folder / "configuration_evil.py").write_text(
        plant + "from transformers import LlamaConfig\n\n\nclass EvilConfig(LlamaConfig):\n    model_type = 'evilnet'\n"
    )
    (folder / "modeling_evil.py").write_text(
        plant + "from transformers import LlamaForCausalLM\n\nfrom .configuration_evil import EvilConfig\n\n\n"
        "class EvilModel(LlamaForCausalLM):\n    config_class = EvilConfig\n"
    )
    return folder


def test_a_model_folder_never_runs_its_own_code_even_with_yes_on_stdin(tmp_path, tiny_model_dir):
    """transformers asks "Do you wish to run the custom code? [y/N]" on stdin; `yes | dvc repro` answered it."""
    marker = tmp_path / "MARKER"
    model = remote_code_model(tiny_model_dir, tmp_path / "evil", marker)
    project = tmp_path / "project"
    project.mkdir()
    write_params(project, {"model": {"base": str(model)}})
    run = run_stage("prepare_base.py", *PREPARE_BASE, cwd=project, input="y\n" * 100)
    _assert_one_line_error(run, [str(model), "config.json", "auto_map", "never runs remote code"], project, PREPARE_BASE_OUTPUTS)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["model.base", "model.embedder"])
def test_an_unknown_model_type_is_refused_before_loading(where, tmp_path, tiny_model_dir):
    from cycle_instruct.embedding import resolve_embedder
    from cycle_instruct.errors import UserError
    from cycle_instruct.models import resolve_base

    model = shutil.copytree(tiny_model_dir, tmp_path / "odd")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "oddnet"}))
    with pytest.raises(UserError, match=r"odd: its config.json names model_type 'oddnet'.*never runs remote code"):
        resolve_base(str(model)) if where == "model.base" else resolve_embedder(str(model))


def _reformat(project: Path, base: Path, template_text: str):
    """Run the reformat stage on transformers, as dvc would, with prompts/reformat_question.txt replaced."""
    from cycle_instruct.records import Record, write_records

    write_params(project, {"generate": {"engine": "hf"}})
    (project / "prompts").mkdir(parents=True, exist_ok=True)
    (project / "prompts" / "reformat_question.txt").write_text(template_text)
    shutil.copy(ROOT / "prompts" / "reformat_answer.txt", project / "prompts")
    write_records(project / "q.jsonl", [Record(id="q000001", original="instruction", instruction="What is DVC?")])
    write_records(project / "a.jsonl", [Record(id="a000001", original="response", response="DVC tracks data and pipelines.")])
    ins = options(base=base, questions_in="q.jsonl", answers_in="a.jsonl")
    prompts = ["--prompts", "prompts/reformat_question.txt", "--prompts", "prompts/reformat_answer.txt"]
    outs = options(questions_out="q_out.jsonl", answers_out="a_out.jsonl", metrics="m.json", timing="t.json")
    run = run_stage("reformat.py", *ins, *prompts, *outs, cwd=project)
    return run, ["q_out.jsonl", "a_out.jsonl", "m.json", "t.json"]


def test_a_prompt_too_long_for_the_model_is_named_before_generating(tmp_path, tiny_model_dir):
    """A 1 MB template: transformers tried to allocate its attention (7 GB and a traceback), vLLM
    refused it with a line that named no file; now one line names the template and the sizes."""
    template = "Rewrite the text below as one self-contained, natural question. " * 16_000 + "\n\n{text}"
    assert len(template) > 1_000_000
    run, outputs = _reformat(tmp_path, tiny_model_dir, template)
    _assert_one_line_error(
        run,
        [
            "prompts/reformat_question.txt",
            "the longest prompt made from it is",
            "generate.max_model_len (2048)",
            "segment.max_chars",
        ],
        tmp_path,
        outputs,
    )
    assert "engine" not in run.stderr and not (tmp_path / ".partial").exists()


def _stage_processes(root: Path, script: str):
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        if (
            any(script in part for part in p.info["cmdline"] or [])
            and p.info["cwd"] == str(root)
            and p.status() != psutil.STATUS_ZOMBIE
        ):
            found.append(p)  # a zombie has ended; only its reaper has not yet looked
    return found


@pytest.mark.integration
def test_a_terminated_dvc_takes_its_stage_with_it_and_the_rerun_resumes(tmp_path, tiny_model_dir):
    """SIGTERM to `dvc repro` during reformat: dvc exits at once; its stage used to run on for a
    minute and write outputs and metrics after dvc was gone. Now it stops, keeps its finished
    batches, writes nothing, and the next `dvc repro` resumes from them."""
    import signal
    import subprocess
    import time

    from conftest import TINY, dvc, make_project

    paragraphs = (ROOT / "data/raw/faq_01.txt").read_text().split("\n\n")
    overrides = {
        **TINY,
        "model": {"base": str(tiny_model_dir)},
        "generate": {"engine": "hf", "batch_size": 1, "max_new_tokens": 24},
    }
    root = make_project(tmp_path / "project", overrides, None, {"data/raw/faq.txt": "\n\n".join(paragraphs) + "\n"})
    partial = root / ".partial" / "data_reformatted_questions.jsonl.partial.jsonl"
    run = subprocess.Popen(["dvc", "repro", "reformat"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while time.time() < deadline and run.poll() is None and not (partial.exists() and len(partial.read_text().splitlines()) >= 3):
        time.sleep(0.2)  # header + 2 finished batches
    assert run.poll() is None and _stage_processes(root, "stages/reformat.py"), "the stage finished before it could be stopped"
    run.send_signal(signal.SIGTERM)  # to dvc alone, as `kill <pid>` or a job scheduler sends it
    run.wait(timeout=30)
    time.sleep(5)
    assert not _stage_processes(root, "stages/reformat.py")
    written = [
        "data/reformatted/questions.jsonl",
        "data/reformatted/answers.jsonl",
        "metrics/reformat.json",
        "metrics/timings/reformat.json",
    ]
    assert not [w for w in written if (root / w).exists()] and partial.exists()
    kept = len(partial.read_text().splitlines()) - 1

    resumed = dvc("repro", "reformat", cwd=root)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    metrics = json.loads((root / "metrics/reformat.json").read_text())
    assert metrics["instructions"]["resumed"] >= kept >= 2 and not partial.exists()


def test_a_native_architecture_with_an_auto_map_loads_natively_and_runs_no_code(tmp_path, tiny_model_dir):
    """Phi-3's folders ship an auto_map beside model_type 'phi3', which transformers knows: with
    trust_remote_code=False it loads its own class, so the folder is taken, and its .py never runs."""
    from cycle_instruct.models import load_model, prepare_base, refuse_remote_code

    marker = tmp_path / "ran"
    model = remote_code_model(tiny_model_dir, tmp_path / "phi_like", marker)
    config = json.loads((model / "config.json").read_text())
    config.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (model / "config.json").write_text(json.dumps(config))
    refuse_remote_code(model)
    prepare_base(str(model), tmp_path / "base")
    assert load_model(tmp_path / "base").config.model_type == "llama"
    assert not marker.exists()
