from collections import Counter

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.questions import RULES, is_question
from cycle_instruct.records import read_records
from cycle_instruct.segment import check_both_sides
from cycle_instruct.text import clean, split_paragraphs

from conftest import run_stage, segment_outputs, write_params


def test_paragraphs_split_at_blank_lines_of_any_whitespace():
    text = "First line\nstill first.\n\n  \t\nSecond?\r\n\r\nThird.\n\u00a0\nFourth.\n\u3000\u200b\nFifth.\n\n\n"
    assert split_paragraphs(text) == ["First line\nstill first.", "Second?", "Third.", "Fourth.", "Fifth."]


def test_invisible_paragraphs_are_dropped_and_counted_and_nul_is_removed():
    stats = Counter()
    assert split_paragraphs("A.\n\n\u200b\ufeff\u2060\n\u200c\u200d\n\nB.", stats) == ["A.", "B."]
    assert stats == {"dropped_empty_paragraphs": 1}
    assert clean("a\x00b\ud800c\udfff", stats) == "abc"
    assert stats["nul_chars_removed"] == 1 and stats["lone_surrogates_removed"] == 2


@pytest.mark.parametrize(
    "text,expected",
    [
        ("What is DVC?", True),
        ("Is it raining？", True),
        ("هل هذا سؤال؟", True),
        ("A plain statement.", False),
        ("Τι είναι αυτό;", False),  # Greek ';' is a semicolon code point
    ],
)
def test_question_rule_counts_marks_of_other_scripts(text, expected):
    assert [is_question(text, rule) for rule in RULES] == [expected] * len(RULES)


def test_one_sided_corpora_are_refused_with_advice():
    with pytest.raises(UserError, match="no paragraph contains a question mark, so"):
        check_both_sides([], ["x"], "corpus")
    stats = Counter(question_rule_rejected_mark_in_url=2, question_rule_rejected_no_question_mark=5)
    with pytest.raises(
        UserError,
        match=r"no paragraph contains a question mark that ends a sentence of prose \(2 with one in code, a URL.*segment.question_rule: contains counts them\)",
    ):
        check_both_sides([], ["x"], "corpus", stats)
    with pytest.raises(UserError, match="no answers"):
        check_both_sides(["x"], [], "corpus")


def _project(tmp_path, segment_params: dict):
    write_params(tmp_path, {"segment": segment_params})
    return segment_outputs("out")


def test_segment_stage_writes_records_and_metrics(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.txt").write_text("What is it?\n\nA tool.\n")
    result = run_stage("segment.py", *_project(tmp_path, {"input": "docs"}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r.instruction for r in read_records(tmp_path / "out/q.jsonl")] == ["What is it?"]
    assert (tmp_path / "out/m.json").exists()
