from cycle_instruct.cycle import reconstruct, relabel, training_pairs
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.records import Record

CFG = {"batch_size": 4, "temperature": 0.2, "top_k": 10, "max_new_tokens": 6, "seed": 0}
QUESTION = Record(id="q1", original="instruction", instruction="Why is the sky blue?")
ANSWER = Record(id="a1", original="response", response="Plants use sunlight, water and carbon dioxide.")


def test_relabel_fills_the_missing_side_with_the_iteration(tiny_model_dir):
    tokenizer, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    out, stats = relabel(model, tokenizer, [QUESTION, ANSWER], CFG, iteration=3)
    assert stats["in"] == 2 and stats["out"] + stats["rejected"] == 2 and stats["tokens_generated"] > 0
    for r in out:
        assert r.iteration == 3 and r.instruction and r.response
    originals = {r.id: r.original_text for r in out}
    assert originals.get("q1", QUESTION.instruction) == QUESTION.instruction
    assert originals.get("a1", ANSWER.response) == ANSWER.response


def test_relabel_can_keep_every_record_for_scoring(tiny_model_dir):
    tokenizer, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    kept, _ = relabel(model, tokenizer, [QUESTION, ANSWER], CFG, iteration=0)
    every, stats = relabel(model, tokenizer, [QUESTION, ANSWER], CFG, iteration=0, keep_rejected=True)
    assert [r.id for r in every] == ["q1", "a1"] and stats["generated"] == 2
    assert every[0].instruction == QUESTION.instruction and every[1].response == ANSWER.response
    assert all(r in every for r in kept)  # same seed: the default keeps a subset of the same records


def test_training_pairs_point_each_direction_at_the_real_side():
    pseudo_answer = Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)
    (messages, target), = training_pairs([pseudo_answer], "bwd")
    assert target == "Why?" and "Because." in messages[-1]["content"] and "user message" in messages[-1]["content"]
    pseudo_question = Record(id="a1", original="response", instruction="How?", response="Like this.", iteration=1)
    (messages, target), = training_pairs([pseudo_question], "fwd")
    assert target == "Like this." and messages == [{"role": "user", "content": "How?"}]


def test_reconstruct_regenerates_the_original_side(tiny_model_dir):
    tokenizer, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    pairs = [Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)]
    out, stats = reconstruct(model, tokenizer, pairs, CFG)
    assert out[0].instruction == "Why?" and isinstance(out[0].reconstruction, str)
    assert stats["generated"] == 1
