"""Per-record resume: finished batches survive a crash; nothing stale or cut is ever mixed in."""

from cycle_instruct.engines import Engine, HFEngine
from cycle_instruct.generate import generate, open_partial
from cycle_instruct.prompts import forward_messages, shipped_prompts
from cycle_instruct.resume import Partial

from conftest import shipped_params

PROMPTS = shipped_prompts()

CFG = shipped_params(generate={"batch_size": 2, "temperature": 0.7, "top_k": 10, "max_new_tokens": 6, "seed": 5}).generate
QUESTIONS = [
    forward_messages(PROMPTS, q) for q in ["Why?", "How is it?", "What is the capital of France?", "Who?", "When and where?"]
]


class Counting(Engine):
    """The real engine, counting the prompts it is asked to generate."""

    def __init__(self, engine):
        self.engine, self.generated = engine, 0
        self.name, self.tokenizer, self.base_dir, self.reason = engine.name, engine.tokenizer, engine.base_dir, engine.reason

    def run(self, prompts, cfg, adapter=None, seed=0):
        self.generated += len(prompts)
        return self.engine.run(prompts, cfg, adapter=adapter, seed=seed)


def test_a_resumed_run_generates_only_the_missing_batches_and_equals_an_uninterrupted_one(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = Counting(HFEngine(tiny_model_dir))
    uninterrupted = generate(engine, QUESTIONS, CFG)
    partial = open_partial("out/a.jsonl", engine, QUESTIONS, CFG)
    full = generate(engine, QUESTIONS, CFG, partial=partial)
    lines = partial.path.read_text().splitlines()
    assert len(lines) == 1 + 3  # the fingerprint, then one line per batch of 2, 2 and 1 prompts
    partial.path.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # a crash: 1 batch whole, 1 cut

    engine.generated = 0
    resumed = generate(engine, QUESTIONS, CFG, partial=open_partial("out/a.jsonl", engine, QUESTIONS, CFG))
    assert engine.generated == 3  # 2 of 5 came from the partial file
    assert sum(g.resumed for g in resumed) == 2
    strip = lambda gens: [(g.text, g.new_tokens, g.finished) for g in gens]  # noqa: E731
    assert strip(resumed) == strip(full) == strip(uninterrupted)


def test_a_partial_file_of_other_inputs_or_params_is_discarded(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    engine = HFEngine(tiny_model_dir)
    generate(engine, QUESTIONS, CFG, partial=open_partial("out/a.jsonl", engine, QUESTIONS, CFG))
    other = open_partial("out/a.jsonl", engine, QUESTIONS, CFG.but(temperature=0.3))
    assert other.batches == {} and "discarded" in capsys.readouterr().out
    assert open_partial("out/a.jsonl", engine, QUESTIONS[:4], CFG).batches == {}


def test_a_cut_line_is_dropped_with_a_warning(tmp_path, capsys):
    partial = Partial("x.jsonl", "key", folder=tmp_path)
    partial.add(0, [{"text": "a", "new_tokens": 1, "finished": True}])
    partial.path.write_text(partial.path.read_text() + '{"batch": 1, "results": [{"te')
    again = Partial("x.jsonl", "key", folder=tmp_path)
    assert list(again.batches) == [0] and "cut or corrupt line" in capsys.readouterr().out
    again.add(1, [{"text": "b", "new_tokens": 1, "finished": True}])
    assert list(Partial("x.jsonl", "key", folder=tmp_path).batches) == [0, 1]
