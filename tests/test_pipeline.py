"""The whole pipeline, for real: DVC in a temporary git repo, the embedded SmolLM2 and MiniLM."""

import json
import subprocess

import pytest
import yaml

from conftest import ROOT, TINY, dvc, make_project, ran_stages

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def project(tmp_path_factory, dvc_cache):
    """The repo's pipeline in a fresh git repo, on 8 question/answer pairs, run once."""
    paragraphs = (ROOT / "data/raw/faq_01.txt").read_text().split("\n\n")[:16]
    root = make_project(tmp_path_factory.mktemp("project"), TINY, dvc_cache, {"data/raw/faq.txt": "\n\n".join(paragraphs) + "\n"})
    first = dvc("repro", cwd=root)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return root, first.stdout


def test_every_stage_ran_with_iterations_chained(project):
    root, output = project
    stages = ran_stages(output)
    for it in ("1", "2"):
        order = [stages.index(f"{s}@{it}") for s in ("relabel_answers", "train_bwd", "relabel_questions", "train_fwd")]
        assert order == sorted(order)
    assert stages.index("train_fwd@1") < stages.index("relabel_answers@2")
    assert stages.index("segment") < stages.index("reformat") < stages.index("relabel_answers@1")
    assert stages[-2:] == ["embed", "prune"]
    dot = dvc("dag", "--dot", cwd=root).stdout
    assert '"train_fwd@1" -> "relabel_answers@2"' in dot


def test_datasets_keep_the_record_schema(project):
    root, _ = project
    inst = [json.loads(line) for line in (root / "data/final/cycle_inst.jsonl").read_text().splitlines()]
    filt = [json.loads(line) for line in (root / "data/final/cycle_filt.jsonl").read_text().splitlines()]
    pruned = [json.loads(line) for line in (root / "data/final/pruned.jsonl").read_text().splitlines()]
    assert len(filt) + len(pruned) == len(inst) >= 8
    assert len(pruned) == round(0.05 * len(inst))
    assert {r["original"] for r in inst} == {"instruction", "response"}
    for r in filt:
        assert r["instruction"] and r["response"] and r["iteration"] == 2
        assert r["source"]["doc"].endswith("faq.txt") and isinstance(r["source"]["paragraph"], int)
        assert isinstance(r["distance"], float) and isinstance(r["reconstruction"], str)
    if pruned:
        assert max(r["distance"] for r in pruned) >= max(r["distance"] for r in filt)


def test_adapters_and_metrics_exist_per_iteration(project):
    root, _ = project
    for it in ("1", "2"):
        for model in ("m_qa", "m_aq"):
            assert (root / f"data/iterations/{it}/{model}/adapter_config.json").exists()
        train = json.loads((root / f"metrics/iterations/{it}/train_fwd.json").read_text())
        assert train["optimizer_steps"] > 0 and train["final_loss"] > 0
        relabel = json.loads((root / f"metrics/iterations/{it}/relabel_answers.json").read_text())
        assert {"in", "out", "rejected", "rejected_by_reason", "tokens_generated", "wall_seconds"} <= set(relabel)
    summary = json.loads((root / "metrics/summary.json").read_text())
    assert summary["iterations"] == 2 and summary["cycle_filt_pairs"] + summary["pruned"] == summary["cycle_inst_pairs"]
    shown = json.loads(dvc("metrics", "show", "--json", cwd=root).stdout)
    names = set(next(iter(shown.values()))["data"])
    assert "metrics/iterations/2/train_bwd.json" in names and "metrics/summary.json" in names
    assert json.loads((root / "metrics/curves/train_bwd_2.json").read_text())[0]["step"] == 1


def test_outputs_are_dvc_tracked_not_git(project):
    root, _ = project
    ignored = subprocess.run(["git", "check-ignore", "data/final/cycle_filt.jsonl", "data/iterations/1/m_qa", "data/models/base"], cwd=root, capture_output=True, text=True)
    assert len(ignored.stdout.split()) == 3
    assert (root / "dvc.lock").exists()


def test_second_repro_does_nothing_and_prune_params_rerun_only_prune(project):
    root, _ = project
    again = dvc("repro", cwd=root)
    assert again.returncode == 0 and ran_stages(again.stdout) == []
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["prune"]["fraction"] = 0.25
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = dvc("repro", cwd=root)
    assert changed.returncode == 0 and ran_stages(changed.stdout) == ["prune"]
    prune = json.loads((root / "metrics/prune.json").read_text())
    assert prune["pruned"] == round(0.25 * prune["in"])
