import pytest

from cycle_instruct.cycle import complete
from cycle_instruct.engines import HFEngine
from cycle_instruct.prompts import shipped_prompts
from cycle_instruct.records import Record

from conftest import shipped_params

pytestmark = pytest.mark.slow  # generation on the embedded model: not in make unit

PROMPTS = shipped_prompts()

CFG = shipped_params(generate={"batch_size": 4, "temperature": 0.2, "top_k": 10, "max_new_tokens": 6, "seed": 0}).generate
QUESTION = Record(id="q1", original="instruction", instruction="Why is the sky blue?")
ANSWER = Record(id="a1", original="response", response="Plants use sunlight, water and carbon dioxide.")
# One token per reply: the tiny model's byte-level pieces ("\x13", half of a UTF-8 character) hold no
# word, so for a source with no word either ("...") such a reply is an echo, rejected by our checks.
ONE_TOKEN = shipped_params(generate={"batch_size": 4, "temperature": 0.2, "top_k": 10, "max_new_tokens": 1, "seed": 0}).generate
WORDLESS = [
    Record(id=f"p{i}", original="response", response=text) for i, text in enumerate(["...", "--", "—", "!!!", "???", "?!"])
]


def test_relabel_fills_the_missing_side_with_the_iteration(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    out, stats = complete(engine, [QUESTION, ANSWER], CFG, PROMPTS, reads="original", iteration=3)
    assert [r.id for r in out] == ["q1", "a1"]  # the tiny model's replies pass our checks: both pairs come out
    assert stats["in"] == stats["out"] == 2 and stats["rejected"] == 0 and 0 < stats["tokens_generated"] <= 2 * CFG.max_new_tokens
    question, answer = out
    assert question.instruction == QUESTION.instruction and question.response.strip()  # the real side kept, the answer written
    assert answer.response == ANSWER.response and answer.instruction.strip()  # and the question written for the real answer
    assert question.response != question.instruction and answer.instruction != answer.response
    assert question.iteration == answer.iteration == 3


def test_relabel_can_keep_every_record_for_scoring(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    records = [QUESTION, *WORDLESS, ANSWER]
    kept, kept_stats = complete(engine, records, ONE_TOKEN, PROMPTS)
    every, stats = complete(engine, records, ONE_TOKEN, PROMPTS, keep_rejected=True)
    assert [r.id for r in every] == [r.id for r in records] and stats["generated"] == stats["out"] == len(records)
    assert stats["rejected"] == kept_stats["rejected"] == stats["rejected_by_reason"].get("echo", 0) > 0  # some wordless replies
    assert 0 < len(kept) == len(records) - stats["rejected"]  # the default drops exactly the rejected ones, and only them
    assert all(r in every for r in kept)  # same seed: the default keeps a subset of the same records
    assert every[0].instruction == QUESTION.instruction and every[-1].response == ANSWER.response
    assert all(r.instruction and r.response for r in every)  # a rejected record still carries the reply to score


def test_reconstruct_regenerates_the_original_side_from_the_generated_one(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    pairs = [Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)]
    out, stats = complete(engine, pairs, CFG, PROMPTS, reads="generated", keep_rejected=True)
    assert out[0].instruction == "Why?" and out[0].response == "Because." and out[0].iteration == 1 and stats["generated"] == 1
    assert stats["rejected"] == 0 and out[0].reconstruction.strip() and out[0].reconstruction != "Why?"  # written from "Because."


def test_a_rejected_reconstruction_is_none(tiny_model_dir):
    """A reconstruction our checks reject is none at all, so that it cannot earn its pair a distance."""
    engine = HFEngine(tiny_model_dir)
    pairs = [
        Record(id="a1", original="response", instruction="Why is the sky blue?", response="Because.", iteration=1),
        *(
            Record(id=r.id, original="instruction", instruction="Why do plants grow?", response=r.response, iteration=1)
            for r in WORDLESS
        ),
    ]
    out, stats = complete(engine, pairs, ONE_TOKEN, PROMPTS, reads="generated")
    assert [r.id for r in out] == [r.id for r in pairs] and stats["copied_pairs"] == 0  # reconstruction keeps every pair
    none = [r for r in out if r.reconstruction is None]
    assert 0 < len(none) == stats["rejected"] == stats["rejected_by_reason"].get("echo") < len(out)
    assert all(r.reconstruction.strip() for r in out if r.reconstruction is not None)


def test_every_generation_comes_back_judged(tiny_model_dir):
    """No caller patches `reject`: an echo of the text read is rejected inside generate."""
    from cycle_instruct.generate import generate
    from cycle_instruct.prompts import forward_messages

    engine = HFEngine(tiny_model_dir)
    asked = []
    gens = generate(
        engine,
        [forward_messages(PROMPTS, "Why?")],
        CFG,
        sources=["Why?"],
        check=lambda g, i: asked.append((g.text, i)) or "custom",
    )
    assert asked == [(gens[0].text, 0)] and gens[0].text.strip()  # the reply passed the common checks, so ours judged it
    assert gens[0].reject == "custom"
    unchecked = generate(engine, [forward_messages(PROMPTS, "Why?")], CFG)
    assert unchecked[0].reject is None


def test_a_pair_whose_generated_side_copies_its_original_is_never_reconstructed(tiny_model_dir):
    """A copy would reconstruct perfectly and win the filter: it gets no reconstruction, so no
    distance, whatever wrote it; the other pairs keep their order."""
    engine = HFEngine(tiny_model_dir)
    text = "Plants use sunlight, water and carbon dioxide to make sugar."
    pairs = [
        Record(id="a1", original="response", instruction="How do plants make food?", response=text, iteration=1),
        Record(id="a2", original="response", instruction=text.upper(), response=text, iteration=1),
        Record(
            id="a3",
            original="response",
            instruction="What do plants use to make sugar from sunlight?",
            response=text,
            iteration=1,
        ),
        Record(
            id="q1",
            original="instruction",
            instruction="Why is the sky blue?",
            response="Why is the sky blue, then?",
            iteration=1,
        ),
    ]
    out, stats = complete(engine, pairs, CFG, PROMPTS, reads="generated", keep_rejected=True)
    assert [r.id for r in out] == ["a1", "a2", "a3", "q1"]
    assert out[1].reconstruction is None and out[3].reconstruction is None  # equal up to case; ROUGE-L F1 0.91
    assert stats["copied_pairs"] == 2 and stats["generated"] == 2 and stats["in"] == stats["out"] == 4
    assert (
        stats["rejected"] == 0 and out[0].reconstruction.strip() and out[2].reconstruction.strip()
    )  # the others are reconstructed
