from cycle_instruct.cycle import complete
from cycle_instruct.engines import HFEngine
from cycle_instruct.prompts import shipped_prompts
from cycle_instruct.records import Record

from conftest import shipped_params

PROMPTS = shipped_prompts()

CFG = shipped_params(generate={"batch_size": 4, "temperature": 0.2, "top_k": 10, "max_new_tokens": 6, "seed": 0}).generate
QUESTION = Record(id="q1", original="instruction", instruction="Why is the sky blue?")
ANSWER = Record(id="a1", original="response", response="Plants use sunlight, water and carbon dioxide.")


def test_relabel_fills_the_missing_side_with_the_iteration(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    out, stats = complete(engine, [QUESTION, ANSWER], CFG, PROMPTS, reads="original", iteration=3)
    assert stats["in"] == 2 and stats["out"] + stats["rejected"] == 2 and stats["tokens_generated"] > 0
    for r in out:
        assert r.iteration == 3 and r.instruction and r.response
    originals = {r.id: r.original_text for r in out}
    assert originals.get("q1", QUESTION.instruction) == QUESTION.instruction
    assert originals.get("a1", ANSWER.response) == ANSWER.response


def test_relabel_can_keep_every_record_for_scoring(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    kept, _ = complete(engine, [QUESTION, ANSWER], CFG, PROMPTS)
    every, stats = complete(engine, [QUESTION, ANSWER], CFG, PROMPTS, keep_rejected=True)
    assert [r.id for r in every] == ["q1", "a1"] and stats["generated"] == 2
    assert every[0].instruction == QUESTION.instruction and every[1].response == ANSWER.response
    assert all(r in every for r in kept)  # same seed: the default keeps a subset of the same records


def test_reconstruct_regenerates_the_original_side_from_the_generated_one(tiny_model_dir):
    engine = HFEngine(tiny_model_dir)
    pairs = [Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)]
    out, stats = complete(engine, pairs, CFG, PROMPTS, reads="generated", keep_rejected=True)
    assert out[0].instruction == "Why?" and out[0].response == "Because." and out[0].iteration == 1 and stats["generated"] == 1
    # a reconstruction our checks reject is none at all, so that it cannot earn its pair a distance
    assert isinstance(out[0].reconstruction, str) if stats["rejected"] == 0 else out[0].reconstruction is None


def test_every_generation_comes_back_judged(tiny_model_dir):
    """No caller patches `reject`: an echo of the text read is rejected inside generate."""
    from cycle_instruct.generate import generate
    from cycle_instruct.prompts import forward_messages

    engine = HFEngine(tiny_model_dir)
    gens = generate(engine, [forward_messages(PROMPTS, "Why?")], CFG, sources=["Why?"], check=lambda g, i: "custom")
    assert gens[0].reject in ("empty", "template_leak", "repetitive", "echo", "custom")
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
