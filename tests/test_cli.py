import json
import subprocess

from cycle_instruct.records import Record, write_jsonl, write_records

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


def test_show_prints_a_grounded_pairs_support_and_the_paragraphs_it_was_written_from(tmp_path):
    write_records(
        tmp_path / "d.jsonl",
        [
            Record(
                id="q1", original="instruction", instruction="Why?", response="Because.", support=0.75, retrieved=["a7", "a2"]
            ),
            Record(id="a1", original="response", instruction="What?", response="That.", relevance=0.4),
        ],
    )
    write_jsonl(
        tmp_path / "ctx.jsonl",
        [
            {
                "id": "q1",
                "paragraphs": [{"id": "a7", "cosine": 0.6, "text": "Because it is."}, {"id": "a2", "cosine": 0.5, "text": "So."}],
            }
        ],
    )
    show = ["cycle-instruct", "show", str(tmp_path / "d.jsonl"), "--contexts", str(tmp_path / "ctx.jsonl")]
    out = subprocess.run(show, capture_output=True, text=True, check=True).stdout
    assert "support=0.75" in out and "relevance=0.4" in out
    assert "written from the answer paragraphs a7, a2:\n    [a7] Because it is.\n    [a2] So.\n" in out
    assert out.count("support=") == 1  # a real answer has no support


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


def test_show_says_which_side_is_real_and_filters_by_it(tmp_path):
    from click.testing import CliRunner

    from cycle_instruct.cli import main

    write_records(
        tmp_path / "d.jsonl",
        [
            Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1, distance=0.5),
            Record(id="a1", original="response", instruction="What?", response="That.", iteration=1, distance=0.9),
            Record(id="q2", original="instruction", instruction="How?", response="So.", iteration=1, distance=0.2),
        ],
    )
    show = lambda *args: CliRunner().invoke(main, ["show", str(tmp_path / "d.jsonl"), *args])  # noqa: E731
    out = show().output
    assert "[q1] real question, generated answer (original=instruction)" in out
    assert "[a1] real answer, generated question (original=response)" in out
    ids = lambda out: [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")]  # noqa: E731
    assert ids(show("--side", "question").output) == ["q1", "q2"]
    assert ids(show("--side", "answer").output) == ["a1"]
    assert ids(show("--side", "question", "--worst", "-n", "1").output) == ["q1"]
    bad = show("--side", "both")
    assert bad.exit_code == 2 and "'both' is not one of 'question', 'answer'" in bad.output
