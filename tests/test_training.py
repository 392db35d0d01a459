import json
import os
import subprocess
import sys

import pytest

from cycle_instruct.models import has_adapter, load_model, load_tokenizer
from cycle_instruct.prompts import forward_messages, render_prompt, shipped_prompts
from cycle_instruct.records import Record
from cycle_instruct.training import lora_model, tokenize_pair, train_lora, training_pairs

from conftest import ROOT, shipped_params

pytestmark = pytest.mark.slow  # LoRA training runs: not in make unit

PROMPTS = shipped_prompts()

CFG = shipped_params(
    train={
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "lr": 0.01,
        "micro_batch": 2,
        "effective_batch": 4,
        "cutoff": 64,
        "epochs": 8,
        "seed": 0,
    }
).train


def test_only_the_target_is_labelled(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    ids, labels, truncated = tokenize_pair(
        tokenizer, forward_messages(PROMPTS, "Why is the sky blue?"), "Sunlight scatters.", cutoff=256
    )
    prompt_len = len(tokenizer(render_prompt(tokenizer, forward_messages(PROMPTS, "Why is the sky blue?")))["input_ids"])
    assert not truncated and len(ids) == len(labels)
    assert labels[:prompt_len] == [-100] * prompt_len
    assert labels[prompt_len:] == ids[prompt_len:]
    assert tokenizer.decode(ids[prompt_len:]) == "Sunlight scatters.<|im_end|>"


def test_truncation_keeps_the_cutoff_and_part_of_the_target(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    ids, labels, truncated = tokenize_pair(tokenizer, forward_messages(PROMPTS, "Why? " * 100), "Because " * 100, cutoff=40)
    assert truncated and len(ids) == 40
    assert sum(label != -100 for label in labels) == 20


def test_lora_training_learns_and_saves_an_adapter(tiny_model_dir, tmp_path):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    model = lora_model(load_model(tiny_model_dir, trainable=True), CFG)
    pairs = [(forward_messages(PROMPTS, "What is the capital of France?"), "Paris is the capital of France.")] * 8
    curve, summary = train_lora(model, tokenizer, pairs, CFG)
    assert summary["optimizer_steps"] == 16 == len(curve)  # 8 examples / 4 per step * 8 epochs
    assert curve[-1]["loss"] < 0.5 * curve[0]["loss"]
    assert curve[-1]["lr"] < curve[0]["lr"]  # cosine decay
    model.save_pretrained(tmp_path / "adapter")
    assert has_adapter(tmp_path / "adapter")
    reloaded = load_model(tiny_model_dir, tmp_path / "adapter")
    assert type(reloaded).__name__ == "PeftModelForCausalLM"


def test_same_data_gives_the_same_adapter(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    pairs = [(forward_messages(PROMPTS, "Why is the sky blue?"), "Sunlight scatters.")] * 4
    weights = []
    for _ in range(2):
        model = lora_model(load_model(tiny_model_dir, trainable=True), CFG)
        train_lora(model, tokenizer, pairs, CFG.but(epochs=1))
        weights.append({k: v.clone() for k, v in model.state_dict().items() if "lora_" in k})
    assert weights[0].keys() == weights[1].keys() and all((weights[0][k] == weights[1][k]).all() for k in weights[0])


def test_the_saved_adapter_config_is_the_same_bytes_in_every_process(tiny_model_dir, tmp_path):
    """train.target_modules all-linear is a set inside PEFT; saved in string-hash order it made
    adapter_config.json, and so the adapter's DVC hash, differ between two identical runs."""
    code = (
        "import sys; from cycle_instruct.models import load_model; from cycle_instruct.training import lora_model; "
        "from conftest import shipped_params; "
        "lora_model(load_model(sys.argv[1], trainable=True), shipped_params().train).save_pretrained(sys.argv[2])"
    )
    configs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
        subprocess.run(
            [sys.executable, "-c", code, str(tiny_model_dir), str(tmp_path / seed)], check=True, env=env, capture_output=True
        )
        configs.append((tmp_path / seed / "adapter_config.json").read_bytes())
    assert configs[0] == configs[1] == configs[2]
    assert json.loads(configs[0])["target_modules"] == sorted(json.loads(configs[0])["target_modules"])


def test_training_pairs_point_each_direction_at_the_real_side():
    pseudo_answer = Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)
    ((messages, target),) = training_pairs([pseudo_answer], "bwd", PROMPTS)
    assert target == "Why?" and "Because." in messages[-1]["content"] and "user message" in messages[-1]["content"]
    pseudo_question = Record(id="a1", original="response", instruction="How?", response="Like this.", iteration=1)
    ((messages, target),) = training_pairs([pseudo_question], "fwd", PROMPTS)
    assert target == "Like this." and messages == [{"role": "user", "content": "How?"}]


def _varied_pairs(n=24):
    """Questions and answers of very different lengths, as the demo's."""
    return [
        (
            forward_messages(PROMPTS, "Why is the sky blue? " * (1 + i % 5)),
            "Sunlight scatters off molecules in the air. " * (1 + (i * 7) % 9),
        )
        for i in range(n)
    ]


def test_length_grouping_cuts_padding_and_keeps_steps_order_and_seed(tiny_model_dir):
    from random import Random

    from cycle_instruct.training import plan_steps

    lengths = [10 + (i * 37) % 300 for i in range(200)]
    plans = {grouped: plan_steps(lengths, 4, 2, grouped, Random(0)) for grouped in (False, True)}
    for plan in plans.values():  # the same optimizer steps: every example once, 2 micro-batches of 4 per step
        assert len(plan) == 25 and sorted(i for step in plan for batch in step for i in batch) == list(range(200))

    def padding(plan):
        batches = [batch for step in plan for batch in step]
        processed = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        return 1 - sum(lengths) / processed

    assert padding(plans[True]) < 0.05 < 0.3 < padding(plans[False])
    assert plan_steps(lengths, 4, 2, True, Random(0)) == plans[True] != plan_steps(lengths, 4, 2, True, Random(1))
    firsts = [step[0][0] for step in plans[True]]
    assert firsts != sorted(firsts, key=lambda i: -lengths[i])  # batches shuffled, not longest first

    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    model = lora_model(load_model(tiny_model_dir, trainable=True), CFG)
    _, summary = train_lora(model, tokenizer, _varied_pairs(), CFG.but(epochs=1, cutoff=256))
    assert summary["real_tokens"] > 0 and summary["padding_fraction"] < 0.1 and summary["tokens_per_s"] > 0
    assert summary["loss_on"] == "target positions" and summary["gradient_checkpointing"] is False  # auto: off on CPU


@pytest.mark.parametrize("chunk", [2**27, 300 * 7], ids=["one chunk", "chunks of 7 targets"])
def test_target_only_loss_equals_the_full_logits_loss(tiny_model_dir, chunk, monkeypatch):
    import torch

    from cycle_instruct import training
    from cycle_instruct.training import _collate, target_loss

    monkeypatch.setattr(training, "LOSS_CHUNK", chunk)  # the tiny model's vocabulary is 300

    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    model = lora_model(load_model(tiny_model_dir, trainable=True), CFG.but(target_modules="all-linear"))
    assert not [n for n, _ in model.named_modules() if n.endswith("lm_head.lora_A")]  # all-linear leaves the head out
    batch = _collate([tokenize_pair(tokenizer, m, t, 256)[:2] for m, t in _varied_pairs(6)], tokenizer.pad_token_id)
    losses, grads = [], []
    for full in (True, False):
        model.zero_grad()
        loss = target_loss(model, *batch, full_logits=full)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad]))
    assert abs(losses[0] - losses[1]) <= 1e-5 * abs(losses[0])
    assert (grads[0] - grads[1]).abs().max() <= 1e-5 * grads[0].abs().max()  # chunks only change the order of float sums


def test_gradient_checkpointing_and_bf16_autocast_train_the_same_steps(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    curves = {}
    for name, change in {"plain": {}, "checkpointing": {"gradient_checkpointing": True}, "bf16": {"autocast": "bf16"}}.items():
        model = lora_model(load_model(tiny_model_dir, trainable=True), CFG)
        curves[name], summary = train_lora(model, tokenizer, _varied_pairs(8), CFG.but(epochs=1, **change))
        assert summary["gradient_checkpointing"] is (name == "checkpointing") and summary["autocast"] == (
            "bf16" if name == "bf16" else "off"
        )
    plain, checkpointed, bf16 = ([c["loss"] for c in curves[k]] for k in ("plain", "checkpointing", "bf16"))
    assert checkpointed == pytest.approx(plain, rel=1e-4)  # recomputing activations changes memory, not the math
    assert bf16 == pytest.approx(plain, rel=0.05) and bf16 != plain


def test_bad_training_setups_get_one_line_naming_the_setting(tiny_model_dir, monkeypatch):
    from cycle_instruct.errors import UserError
    from cycle_instruct.params import parse_params
    from cycle_instruct.training import check_cutoff, check_processes

    from conftest import params_yaml

    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    with pytest.raises(
        UserError,
        match=r"train.cutoff = 16 is not above the prompt template alone \(prompts/backward.txt with an empty source: \d+ tokens\)",
    ):
        check_cutoff(tokenizer, "bwd", PROMPTS, 16, "prompts/backward.txt")
    check_cutoff(tokenizer, "fwd", PROMPTS, 64)
    with pytest.raises(
        UserError,
        match=r"train.num_processes = 64, but this machine has \d+ CPU cores and no GPU .*set train.num_processes to at most \d+",
    ):
        check_processes(64)
    with pytest.raises(
        UserError,
        match=r"train.effective_batch \(10\) must be a multiple of train.micro_batch x train.num_processes \(4 x 2 = 8\); use 8 or 16",
    ):
        parse_params(params_yaml({"train": {"micro_batch": 4, "effective_batch": 10, "num_processes": 2}}))
    model = lora_model(load_model(tiny_model_dir, trainable=True), CFG)
    monkeypatch.setattr(type(model.get_base_model()), "supports_gradient_checkpointing", False)
    with pytest.raises(
        UserError,
        match="train.gradient_checkpointing: true, but LlamaForCausalLM does not support gradient checkpointing; set it to auto or false",
    ):
        train_lora(model, tokenizer, _varied_pairs(4), CFG.but(gradient_checkpointing=True))
    _, summary = train_lora(model, tokenizer, _varied_pairs(4), CFG.but(gradient_checkpointing="auto", epochs=1))
    assert summary["gradient_checkpointing"] is False


def test_an_empty_pairs_file_stops_the_train_stage_with_one_line(tiny_model_dir, tmp_path):
    from cycle_instruct.errors import UserError
    from cycle_instruct.steps.train import run

    from conftest import ROOT

    (tmp_path / "pairs.jsonl").write_text("")
    with pytest.raises(UserError, match=r"pairs.jsonl: no pairs to train on; re-run the relabel stage"):
        run(
            shipped_params(),
            "bwd",
            str(tiny_model_dir),
            str(tmp_path / "pairs.jsonl"),
            str(tmp_path / "prev"),
            str(tmp_path / "out"),
            [str(ROOT / "prompts/backward.txt")],
            str(tmp_path / "m.json"),
            str(tmp_path / "c.json"),
        )
    assert not (tmp_path / "out").exists()
