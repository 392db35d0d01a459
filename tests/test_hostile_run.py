"""Hostile input on the model and run side: a model folder that would run its own code, a prompt
too long for the model, a stage whose dvc is terminated, a base model changed in place.

Each case runs a real stage the way dvc does (a subprocess in a project folder) and asserts what a
user sees: exit code 1 and one `error:` line naming the file and what to do, no traceback, no outputs.
"""

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_stage, write_params

PREPARE_BASE = ("--out", "base", "--iteration0", "it0", "--metrics", "m.json", "--timing", "t.json")
PREPARE_BASE_OUTPUTS = ["base", "it0", "m.json", "t.json"]


def _assert_one_line_error(run, words, folder: Path, outputs):
    assert run.returncode == 1, run.stderr
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip() and not line.startswith("warning:")]
    assert "Traceback" not in run.stderr, run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stdout + run.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not [o for o in outputs if (folder / o).exists()]


def remote_code_model(tiny: Path, folder: Path, marker: Path) -> Path:
    """The tiny model dressed as a custom architecture: its config.json maps the auto classes to the
    folder's own .py files, which write `marker` when they are imported."""
    shutil.copytree(tiny, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evilnet", architectures=["EvilModel"],
                  auto_map={"AutoConfig": "configuration_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilModel"})
    (folder / "config.json").write_text(json.dumps(config))
    plant = f"from pathlib import Path\nPath({str(marker)!r}).write_text('the model folder ran its own code')\n"
    (folder / "configuration_evil.py").write_text(plant + "from transformers import LlamaConfig\n\n\nclass EvilConfig(LlamaConfig):\n    model_type = 'evilnet'\n")
    (folder / "modeling_evil.py").write_text(plant + "from transformers import LlamaForCausalLM\n\nfrom .configuration_evil import EvilConfig\n\n\n"
                                             "class EvilModel(LlamaForCausalLM):\n    config_class = EvilConfig\n")
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
