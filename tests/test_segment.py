import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.records import read_records
from cycle_instruct.segment import check_both_sides, is_question, split_paragraphs

from conftest import run_stage, write_params


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


def _project(tmp_path, segment_params: dict):
    write_params(tmp_path, {"segment": segment_params})
    return ["--questions", "out/q.jsonl", "--answers", "out/a.jsonl", "--gold", "out/g.jsonl", "--test", "out/t.jsonl", "--metrics", "out/m.json"]


def test_segment_stage_writes_records_and_metrics(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.txt").write_text("What is it?\n\nA tool.\n")
    result = run_stage("segment.py", *_project(tmp_path, {"input": "docs"}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r.instruction for r in read_records(tmp_path / "out/q.jsonl")] == ["What is it?"]
    assert (tmp_path / "out/m.json").exists()


BAD_INPUTS = {  # name: (files to write, segment params, expected start of the error after "error: ")
    "missing path": ({}, {"input": "nope"}, "nope: no such file, folder or glob match"),
    "empty folder": ({"docs/.keep": ""}, {"input": "docs/sub"}, "docs/sub: no such file"),
    "empty file": ({"docs/a.txt": ""}, {"input": "docs/a.txt"}, "docs/a.txt: file is empty"),
    "no question marks": ({"docs/a.txt": "A.\n\nB.\n"}, {"input": "docs"}, "docs: no paragraph contains a question mark"),
    "only questions": ({"docs/a.txt": "A?\n\nB?\n"}, {"input": "docs"}, "docs: every paragraph contains a question mark"),
    "non-UTF-8": ({"docs/a.txt": b"Why?\n\ncaf\xe9\n"}, {"input": "docs"}, "docs/a.txt:3: not valid UTF-8"),
    "binary file": ({"docs/a.txt": b"\x00\x01\x02"}, {"input": "docs/a.txt"}, "docs/a.txt: looks like a binary file"),
    "malformed JSON line": ({"d.jsonl": '{"instruction": "a?", "response": "b"}\n{oops\n'}, {"input": "d.jsonl"}, "d.jsonl:2: malformed JSON"),
    "missing field": ({"d.jsonl": '{"instruction": "a?"}\n'}, {"input": "d.jsonl", "format": "instructions"}, "d.jsonl:1: record has no field 'response'"),
    "wrong type": ({"d.jsonl": '{"instruction": "a?", "response": 3}\n'}, {"input": "d.jsonl"}, "d.jsonl:1: field 'response' is a int"),
    "broken parent link": (
        {"o.jsonl": '{"message_id": "m1", "parent_id": "gone", "text": "Hi?", "role": "prompter"}\n'},
        {"input": "o.jsonl"}, "o.jsonl:1: parent_id gone of message m1 is not in the file",
    ),
    "unknown format": ({"docs/a.txt": "A?\n\nB.\n"}, {"input": "docs", "format": "csv"}, "params.yaml: segment.format = 'csv': should be 'auto', 'text', 'instructions' or 'dialogue'"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_stops_the_stage_with_one_line_and_no_output(case, tmp_path):
    files, params, message = BAD_INPUTS[case]
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run_stage("segment.py", *_project(tmp_path, params), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {message}"), result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
