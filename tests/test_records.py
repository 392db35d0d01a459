import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.records import Record, atomic_path, read_records, write_records


def test_records_round_trip(tmp_path):
    records = [
        Record(
            id="q1",
            original="instruction",
            instruction="Why?",
            response="Because.",
            iteration=2,
            source={"doc": "a.txt", "paragraph": 0},
            distance=0.25,
        )
    ]
    write_records(tmp_path / "r.jsonl", records)
    assert read_records(tmp_path / "r.jsonl") == records
    assert records[0].original_text == "Why?" and records[0].generated_text == "Because."


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_bad_line_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "q1", "original": "instruction"}\n{oops\n')
    with pytest.raises(UserError, match=r"r.jsonl:2: not a cycle-instruct record"):
        read_records(path)
