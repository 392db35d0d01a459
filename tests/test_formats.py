"""The record formats (formats.FORMATS): detection on the first record of each real sample, and each format's function on real records."""

import json
from pathlib import Path

import pytest

from cycle_instruct.corpus import Reading
from cycle_instruct.errors import UserError
from cycle_instruct.formats import FORMATS, detect, format_of
from cycle_instruct.records import INSTRUCTION, RESPONSE

from conftest import shipped_params

DATA = Path(__file__).parent / "data"
FLASHCARDS = {"instruction": "input", "response": "output", "context": ""}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def reading(**changes) -> Reading:
    return Reading(shipped_params(segment=changes).segment)


@pytest.mark.parametrize(
    "name,fields,expected",
    [
        ("dolly.jsonl", {}, "instructions"),
        ("flashcards.jsonl", FLASHCARDS, "instructions"),
        ("flashcards.jsonl", {}, None),  # its input/output fields are not the default instruction/response
        ("oasst.jsonl", {}, "oasst"),
        ("wikihow.jsonl", {}, "text"),
    ],
)
def test_the_first_record_of_each_sample_tells_its_format(name, fields, expected):
    assert detect(rows(name)[0], reading(fields=fields).fields) == expected


def test_segment_format_resolves_to_a_function_of_the_table():
    fields = reading().fields
    chat, tree = {"conversations": []}, rows("oasst.jsonl")[0]
    assert [format_of("dialogue", "f.jsonl", first, fields) for first in (chat, tree)] == ["chat", "oasst"]
    assert format_of("text", "f.jsonl", tree, fields) == "text"  # a setting is taken as it is
    assert {
        format_of(s, "f.jsonl", r, fields) for s in ("auto", "dialogue", "text", "instructions") for r in (chat, tree)
    } <= set(FORMATS)
    with pytest.raises(
        UserError,
        match=r"^f\.jsonl:1: cannot tell the format from the fields \['input', 'instruction', 'output'\]; set segment.format",
    ):
        format_of("auto", "f.jsonl", rows("flashcards.jsonl")[0], fields)


@pytest.mark.parametrize("share,side", [(1, INSTRUCTION), (0, RESPONSE)])
def test_instructions_give_one_side_of_a_real_dolly_record_and_keep_the_pair(share, side):
    record = rows("dolly.jsonl")[0]
    r = reading(question_share=share)
    FORMATS["instructions"](r, "dolly.jsonl", [(1, record)])
    (item,) = r.corpus.items
    assert item.gold == (record["instruction"].strip(), record["response"].strip())
    assert (item.side, item.text) == (side, item.gold[0] if side == INSTRUCTION else item.gold[1])
    assert item.source == {"doc": "dolly.jsonl:1", "paragraph": 0} and r.corpus.stats["gold_pairs"] == 1


def test_text_reads_a_real_wikihow_record_as_a_document():
    record = rows("wikihow.jsonl")[0]
    r = reading()
    FORMATS["text"](r, "w.jsonl", [(7, record)])
    items = r.corpus.items
    assert {i.side for i in items} == {INSTRUCTION, RESPONSE}
    assert all(i.source["doc"] == "w.jsonl:7" for i in items)
    assert [i.source["paragraph"] for i in items] == sorted(i.source["paragraph"] for i in items)
    position = 0
    for item in items:  # the paragraphs of the record, in order
        position = record["text"].index(item.text, position) + len(item.text)


def test_oasst_gives_a_real_prompt_and_its_replies_with_their_gold_pairs():
    prompt, *replies = rows("oasst.jsonl")[:4]  # one prompter message and its three assistant replies
    r = reading()
    FORMATS["oasst"](r, "o.jsonl", list(enumerate([prompt, *replies], 1)))
    assert [(i.side, i.text, i.source["doc"]) for i in r.corpus.items] == [
        (INSTRUCTION, prompt["text"], "o.jsonl:1"),
        *((RESPONSE, m["text"].strip(), f"o.jsonl:{n}") for n, m in enumerate(replies, 2)),
    ]
    assert [i.gold for i in r.corpus.items[1:]] == [(prompt["text"], m["text"].strip()) for m in replies]


def test_chat_gives_user_turns_as_questions_and_pairs_each_reply_with_its_question():
    record = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "What is 2+2?"},
            {"from": "gpt", "value": " 4. "},
        ]
    }
    r = reading()
    FORMATS["chat"](r, "c.jsonl", [(3, record)])
    assert [(i.side, i.text, i.source, i.gold) for i in r.corpus.items] == [
        (INSTRUCTION, "What is 2+2?", {"doc": "c.jsonl:3", "paragraph": 1}, None),
        (RESPONSE, "4.", {"doc": "c.jsonl:3", "paragraph": 2}, ("What is 2+2?", "4.")),
    ]
