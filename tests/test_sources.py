"""Input adapters on real slices of the four tracks, and how input files are found (bad input: test_hostile_inputs.py)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.inputs import find_inputs
from cycle_instruct.segment import build_records, hold_out, scrub_items
from cycle_instruct.sources import load_corpus
from cycle_instruct.text import read_document, split_long

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
    assert all("?" in r.instruction for r in q)
    assert q[0].source["doc"].startswith(str(DATA / "wikihow.jsonl") + ":")
    quoted = [
        r.response for r in a if "?" in r.response
    ]  # e.g. yell, "Me eyes must be foolin' me! Are ye seein' this, ya mangy bilge rat?!"
    assert len(quoted) == stats["question_rule_rejected_mark_in_quotation"] == 2
    paper_q, paper_a, _, _ = segment({"input": str(DATA / "wikihow.jsonl"), "question_rule": "contains"})
    assert not any("?" in r.response for r in paper_a) and len(paper_q) == len(q) + 2


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
    held_back = {g.response for g in gold if g.original == "instruction"} | {
        g.instruction for g in gold if g.original == "response"
    }
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
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be nice."},
                    {"role": "user", "content": "Hi, how are you?"},
                    {"role": "assistant", "content": "Fine."},
                ]
            }
        )
        + "\n"
        + json.dumps({"conversations": [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": "4."}]})
        + "\n"
    )
    q, a, gold, _ = segment({"input": str(path)})
    assert [r.instruction for r in q] == ["Hi, how are you?", "What is 2+2?"]
    assert [r.response for r in a] == ["Fine.", "4."]
    assert [(g.instruction, g.response) for g in gold] == [("Hi, how are you?", "Fine."), ("What is 2+2?", "4.")]


def test_json_array_files(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(
        json.dumps(
            [{"instruction": "Name a color?", "input": "", "output": "Blue."}] * 1
            + [{"instruction": "Add 2 and 2.", "input": "", "output": "4"}]
        )
    )
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
    assert (stats["scrubbed_email"], stats["scrubbed_phone"], stats["scrubbed_ip_address"], stats["scrubbed_secret"]) == (
        1,
        1,
        1,
        2,
    )
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


# --- bad input: every case the stage refuses or skips is in test_hostile_inputs.py -------------


def expect_error(cfg, pattern):
    with pytest.raises(UserError, match=pattern) as info:
        segment(cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_find_inputs_takes_a_file_or_the_files_of_a_folder_that_match_include(tmp_path):
    for rel in ("x.txt", "sub/y.jsonl", "sub/deep/w.MD", "z.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("a")
    default = shipped_params().segment.include
    found = lambda include: [p.relative_to(tmp_path).as_posix() for p in find_inputs(str(tmp_path), include, Counter())]
    assert find_inputs(str(tmp_path / "x.txt"), default, Counter()) == [tmp_path / "x.txt"]
    assert found(default) == ["sub/deep/w.MD", "sub/y.jsonl", "x.txt"]  # suffixes match in any case
    assert found("*.txt") == ["x.txt"]  # * stays within a folder
    assert found("**/*.jsonl") == ["sub/y.jsonl"] and found("**/*.txt") == ["x.txt"]  # **/ spans zero or more folders
    assert found(["sub/*", "[xz].*"]) == ["sub/y.jsonl", "x.txt", "z.csv"] and found("[!x].*") == ["z.csv"]
    assert found("sub/**") == ["sub/deep/w.MD", "sub/y.jsonl"] and found("?.csv") == ["z.csv"]


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    with pytest.raises(UserError, match=rf"^{tmp_path}: cannot read it \(Is a directory\); check that it exists and is readable"):
        read_document(tmp_path)


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
