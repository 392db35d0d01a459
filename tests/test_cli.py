import json
import subprocess

from cycle_instruct.records import Record, write_records

from conftest import ROOT, segment_outputs, write_params


def test_help_lists_every_stage():
    out = subprocess.run(["cycle-instruct", "--help"], capture_output=True, text=True, check=True).stdout
    for stage in (
        "prepare_base",
        "segment",
        "reformat",
        "relabel",
        "train_fwd",
        "train_bwd",
        "embed",
        "prune",
        "export",
        "summary",
        "check",
        "show",
    ):
        assert stage in out


def test_show_prints_pairs(tmp_path):
    write_records(
        tmp_path / "d.jsonl",
        [Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1, distance=0.5)],
    )
    out = subprocess.run(["cycle-instruct", "show", str(tmp_path / "d.jsonl")], capture_output=True, text=True, check=True).stdout
    assert "instruction: Why?" in out and "response:    Because." in out and "distance=0.5" in out


def test_stage_command_calls_the_stage_recipe_without_the_stage_scripts(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "f.txt").write_text("Is it?\n\nIt is.\n")
    write_params(tmp_path, {"segment": {"input": "docs"}})  # no stages/ folder here: the CLI needs none
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    subprocess.run(
        [
            "cycle-instruct",
            "segment",
            *segment_outputs(""),
        ],
        cwd=tmp_path,
        check=True,
    )
    assert json.loads((tmp_path / "m.json").read_text())["questions"] == 1
