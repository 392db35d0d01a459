"""Input adapters on real slices of the four tracks, and every bad input the issue lists."""

import json
from collections import Counter
from pathlib import Path

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.segment import build_records, hold_out, scrub_items, split_long
from cycle_instruct.sources import find_inputs, load_corpus

from conftest import shipped_params

DATA = Path(__file__).parent / "data"
FLASHCARDS = {"instruction": "input", "response": "output", "context": ""}


def segment(changes: dict):
    """What the segment stage does, minus the files: load, scrub, hold out, build."""
    cfg = shipped_params(segment=changes).segment
    corpus = load_corpus(cfg)
    scrub_items(corpus.items, cfg, corpus.stats)
    items, test = hold_out(corpus.items, cfg.test_size, 0)
    q, a, gold = build_records(items, cfg, corpus.stats)
    corpus.stats["test"] = test
    return q, a, gold, corpus.stats


def test_plain_text_folder_and_question_marks_of_other_scripts(tmp_path):
    (tmp_path / "a.txt").write_text("How do I start?\n\nRun the command.\n\n这是什么？\n\nA statement.\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("هل هذا سؤال؟\n")
    q, a, gold, stats = segment({"input": str(tmp_path)})
    assert [r.instruction for r in q] == ["How do I start?", "这是什么？", "هل هذا سؤال؟"]
    assert [r.response for r in a] == ["Run the command.", "A statement."]
    assert q[1].source == {"doc": str(tmp_path / "a.txt"), "paragraph": 2}
    assert gold == [] and stats["files"] == 2


def test_wikihow_jsonl_documents_are_plain_text():
    q, a, gold, stats = segment({"input": str(DATA / "wikihow.jsonl")})
    assert q and a and not gold
    assert all("?" in r.instruction for r in q) and not any("?" in r.response for r in a)
    assert q[0].source["doc"].startswith(str(DATA / "wikihow.jsonl") + ":")


@pytest.mark.parametrize("name,fields", [("dolly.jsonl", {}), ("flashcards.jsonl", FLASHCARDS)])
def test_instruction_collections_give_one_side_per_pair_and_keep_gold(name, fields):
    cfg = {"input": str(DATA / name), "fields": fields, "seed": 0}
    q, a, gold, _ = segment(cfg)
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines()]
    assert len(q) + len(a) == len(gold) == len(rows) == 12 and q and a
    by_id = {g.id: g for g in gold}
    for r in q:  # the kept question is in the loop; its answer only in the gold file
        assert by_id[r.id].instruction == r.instruction and r.response is None
    for r in a:
        assert by_id[r.id].response == r.response and r.instruction is None
    held_back = {g.response for g in gold if g.original == "instruction"} | {g.instruction for g in gold if g.original == "response"}
    assert not held_back & {r.original_text for r in q + a}
    assert segment(cfg)[0] == q  # the seed fixes which side each pair gives
    assert [r.instruction for r in segment({**cfg, "seed": 1})[0]] != [r.instruction for r in q]


def test_dolly_context_is_appended_to_the_instruction(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"instruction": "Summarize this.", "context": "A long text.", "response": "Short."}) + "\n")
    _, _, gold, _ = segment({"input": str(path)})
    assert gold[0].instruction == "Summarize this.\n\nA long text."


def test_oasst_trees_give_user_questions_and_assistant_answers():
    q, a, gold, stats = segment({"input": str(DATA / "oasst.jsonl")})
    rows = [json.loads(line) for line in (DATA / "oasst.jsonl").read_text().splitlines()]
    live = [r for r in rows if not r["deleted"]]
    assert len(q) == sum(r["role"] == "prompter" for r in live)
    assert len(a) == sum(r["role"] == "assistant" for r in live)
    assert len(gold) == len(a)  # every assistant reply has its prompt in the gold file
    assert all(g.original == "response" for g in gold)


def test_chat_and_sharegpt_formats(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(
        json.dumps({"messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi, how are you?"}, {"role": "assistant", "content": "Fine."}]}) + "\n"
        + json.dumps({"conversations": [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": "4."}]}) + "\n"
    )
    q, a, gold, _ = segment({"input": str(path)})
    assert [r.instruction for r in q] == ["Hi, how are you?", "What is 2+2?"]
    assert [r.response for r in a] == ["Fine.", "4."]
    assert [(g.instruction, g.response) for g in gold] == [("Hi, how are you?", "Fine."), ("What is 2+2?", "4.")]


def test_json_array_files(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"instruction": "Name a color?", "input": "", "output": "Blue."}] * 1 + [{"instruction": "Add 2 and 2.", "input": "", "output": "4"}]))
    q, a, gold, _ = segment({"input": str(path), "fields": {"response": "output", "context": "input"}})
    assert len(gold) == 2 and len(q) + len(a) == 2


def test_duplicates_are_removed_and_counted(tmp_path):
    (tmp_path / "a.txt").write_text("What is it?\n\nwhat   is it ?\n\nIt is a tool.\n\nIt is a tool!\n\nSomething else.\n")
    q, a, _, stats = segment({"input": str(tmp_path)})
    assert len(q) == 1 and len(a) == 2 and stats["duplicates_removed"] == 2


def test_private_data_is_scrubbed_before_the_loop_and_counted(tmp_path):
    (tmp_path / "a.txt").write_text(
        "Can you mail jane.doe@example.com or call +1 415-555-0132?\n\n"
        "Server 10.0.0.12 uses key sk-abcdefghijklmnopqrstuvwx1234 and token: ghp_abcdefghijklmnopqrstuvwxyz0123456789.\n\n"
        "Magic Johnson won titles in 1980, 1982 and 1985.\n"
    )
    q, a, _, stats = segment({"input": str(tmp_path)})
    assert q[0].instruction == "Can you mail <EMAIL> or call <PHONE>?"
    assert a[0].response == "Server <IP_ADDRESS> uses key <SECRET> and token: <SECRET>."
    assert a[1].response == "Magic Johnson won titles in 1980, 1982 and 1985."
    assert (stats["scrubbed_email"], stats["scrubbed_phone"], stats["scrubbed_ip_address"], stats["scrubbed_secret"]) == (1, 1, 1, 2)
    kept = segment({"input": str(tmp_path), "scrub_private": False})[0]
    assert "jane.doe@example.com" in kept[0].instruction


def test_long_paragraphs_are_split_at_sentences_or_truncated(tmp_path):
    (tmp_path / "a.txt").write_text("Why?\n\n" + "".join(f"This is sentence {i}. " for i in range(30)) + "\n")
    q, a, _, stats = segment({"input": str(tmp_path), "max_chars": 100})
    assert len(a) >= 6 and all(len(r.response) <= 100 for r in a) and all(r.response.endswith(".") for r in a)
    assert stats["long_paragraphs"] == 1 and stats["long_paragraphs_split_into"] == len(a)
    _, a, _, stats = segment({"input": str(tmp_path), "max_chars": 100, "long_paragraphs": "truncate"})
    assert len(a) == 1 and len(a[0].response) == 100 and stats["long_paragraphs_truncated"] == 1


def test_split_long_hard_cuts_text_without_sentence_ends():
    assert split_long("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_huge_single_line_is_split_not_dropped(tmp_path):
    huge = ("word " * 10 + "again? ") * 300_000  # ~20 MB on one line
    (tmp_path / "huge.txt").write_text("Is this fine?\n\n" + huge + "\n")
    q, a, _, stats = segment({"input": str(tmp_path / "huge.txt"), "max_chars": 2000})
    total = sum(len(r.instruction) for r in q) + sum(len(r.response or "") for r in a)
    assert stats["long_paragraphs"] == 1 and stats["duplicates_removed"] > 0
    assert all(len(r.instruction) <= 2000 for r in q) and total > 0


# --- bad input: a clear one-line error (or a counted skip), never a traceback ---------------

def expect_error(cfg, pattern):
    with pytest.raises(UserError, match=pattern) as info:
        segment(cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_path(tmp_path):
    expect_error({"input": str(tmp_path / "nope")}, r"nope: no such file, folder or glob match; set segment.input")


def test_empty_file_and_empty_folder(tmp_path):
    expect_error({"input": str(tmp_path)}, r"folder holds no .txt, .md, .jsonl or .json files")
    (tmp_path / "empty.txt").write_text("")
    expect_error({"input": str(tmp_path / "empty.txt")}, r"empty.txt: file is empty")


def test_non_utf8_names_file_and_line(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("first line\nsecond caf\xe9\n".encode("latin-1"))
    expect_error({"input": str(tmp_path)}, r"latin1.txt:2: not valid UTF-8 \(byte 21\); convert the file to UTF-8")


def test_binary_file_alone_is_refused_in_a_folder_skipped_and_counted(tmp_path):
    (tmp_path / "blob.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    expect_error({"input": str(tmp_path / "blob.txt")}, r"blob.txt: looks like a binary file")
    (tmp_path / "ok.txt").write_text("Why?\n\nBecause.\n")
    q, a, _, stats = segment({"input": str(tmp_path)})
    assert len(q) == len(a) == 1 and stats["skipped_binary_files"] == 1


def test_malformed_json_line_is_named_or_skipped_and_counted(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "Why?", "response": "Because."}\n{"instruction": "oops"\n{"instruction": "How?", "response": "So."}\n')
    expect_error({"input": str(path)}, r"d.jsonl:2: malformed JSON \(.*\); fix it, or set segment.on_bad_record: skip")
    q, a, gold, stats = segment({"input": str(path), "on_bad_record": "skip"})
    assert len(gold) == 2 and stats["skipped_malformed_lines"] == 1


def test_missing_field_and_wrong_type(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "Why?", "response": "Because."}\n{"instruction": "How?"}\n')
    expect_error({"input": str(path)}, r"d.jsonl:2: record has no field 'response' \(set segment.fields")
    path.write_text('{"instruction": "Why?", "response": "Because."}\n{"instruction": "How?", "response": ["a", "list"]}\n')
    expect_error({"input": str(path)}, r"d.jsonl:2: field 'response' is a list, expected a string")
    _, _, gold, stats = segment({"input": str(path), "on_bad_record": "skip"})
    assert len(gold) == 1 and stats["skipped_wrong_type"] == 1


def test_broken_parent_link_in_a_dialogue_tree(tmp_path):
    rows = [json.loads(line) for line in (DATA / "oasst.jsonl").read_text().splitlines()]
    child = next(r for r in rows if r["parent_id"])
    child["parent_id"] = "not-in-the-file"
    path = tmp_path / "oasst.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    line = rows.index(child) + 1
    expect_error({"input": str(path)}, rf"oasst.jsonl:{line}: parent_id not-in-the-file of message {child['message_id']} is not in the file")
    _, _, _, stats = segment({"input": str(path), "on_bad_record": "skip"})
    assert stats["skipped_broken_parent_links"] == 1 and stats["messages_under_broken_links"] >= 1


def test_unknown_format_name(tmp_path):
    expect_error({"input": str(tmp_path), "format": "csv"}, r"segment.format = 'csv': should be 'auto', 'text', 'instructions' or 'dialogue'")


def test_undetectable_json_says_to_set_the_format(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"q": "a", "b": 1}\n')
    expect_error({"input": str(tmp_path / "x.jsonl")}, r"x.jsonl:1: cannot tell the format from the fields \['b', 'q'\]; set segment.format")


def test_find_inputs_accepts_file_folder_and_glob(tmp_path):
    (tmp_path / "x.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.jsonl").write_text("{}")
    (tmp_path / "z.csv").write_text("a,b")
    assert find_inputs(str(tmp_path / "x.txt")) == [tmp_path / "x.txt"]
    assert find_inputs(str(tmp_path)) == [tmp_path / "sub" / "y.jsonl", tmp_path / "x.txt"]
    assert find_inputs(str(tmp_path / "**" / "*.jsonl")) == [tmp_path / "sub" / "y.jsonl"]


def test_held_out_pairs_never_reach_the_loop_or_the_gold_file():
    cfg = {"input": str(DATA / "dolly.jsonl"), "test_size": 4}
    q, a, gold, stats = segment(cfg)
    test = stats["test"]
    assert len(test) == 4 and len(gold) == len(q) + len(a) == 8
    held = {t.instruction for t in test} | {t.response for t in test}
    assert not held & ({r.original_text for r in q + a} | {g.instruction for g in gold} | {g.response for g in gold})
    assert all(t.instruction and t.response for t in test)
    assert len(segment({**cfg, "test_size": 0.25})[3]["test"]) == 3
    expect_error({**cfg, "test_size": 12}, r"segment.test_size 12 holds out all 12 gold pairs")


def test_held_out_dialogue_pairs_remove_both_turns_from_the_loop():
    q, a, gold, stats = segment({"input": str(DATA / "oasst.jsonl"), "test_size": 1})
    (pair,) = stats["test"]
    assert pair.instruction not in {r.instruction for r in q} and pair.response not in {r.response for r in a}
