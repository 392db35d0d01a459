import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.records import read_records
from cycle_instruct.segment import check_both_sides, is_question, split_paragraphs

from conftest import run_stage


def test_paragraphs_split_at_blank_lines_of_any_whitespace():
    text = "First line\nstill first.\n\n  \t\nSecond?\r\n\r\nThird.\n\n\n"
    assert split_paragraphs(text) == ["First line\nstill first.", "Second?", "Third."]


@pytest.mark.parametrize("text,expected", [
    ("What is DVC?", True), ("Is it raining？", True), ("هل هذا سؤال؟", True),
    ("A plain statement.", False), ("Τι είναι αυτό;", False),  # Greek ';' is a semicolon code point
])
def test_question_rule_counts_marks_of_other_scripts(text, expected):
    assert is_question(text) is expected


def test_one_sided_corpora_are_refused_with_advice():
    with pytest.raises(UserError, match="no paragraph contains a question mark"):
        check_both_sides([], ["x"], "corpus")
    with pytest.raises(UserError, match="no answers"):
        check_both_sides(["x"], [], "corpus")


def _project(tmp_path, corpus_spec):
    (tmp_path / "params.yaml").write_text(f"segment:\n  input: {corpus_spec}\n")
    return ["--questions", "out/q.jsonl", "--answers", "out/a.jsonl", "--gold", "out/g.jsonl", "--test", "out/t.jsonl", "--metrics", "out/m.json"]


def test_segment_stage_writes_records_and_metrics(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.txt").write_text("What is it?\n\nA tool.\n")
    result = run_stage("segment.py", *_project(tmp_path, "docs"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r.instruction for r in read_records(tmp_path / "out/q.jsonl")] == ["What is it?"]
    assert (tmp_path / "out/m.json").exists()


def test_segment_stage_error_is_one_line_and_leaves_no_output(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "story.txt").write_text("Once upon a time.\n\nThe end.\n")
    result = run_stage("segment.py", *_project(tmp_path, "docs"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: docs: no paragraph contains a question mark")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
