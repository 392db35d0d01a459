from cycle_instruct.models import has_adapter, load_model, load_tokenizer
from cycle_instruct.prompts import forward_messages, render_prompt, shipped_prompts
from cycle_instruct.training import lora_model, tokenize_pair, train_lora, training_pairs
from cycle_instruct.records import Record

from conftest import shipped_params

PROMPTS = shipped_prompts()

CFG = shipped_params(train={"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "lr": 0.01, "micro_batch": 2, "effective_batch": 4, "cutoff": 64, "epochs": 8, "seed": 0}).train


def test_only_the_target_is_labelled(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir, padding_side="right")
    ids, labels, truncated = tokenize_pair(tokenizer, forward_messages(PROMPTS, "Why is the sky blue?"), "Sunlight scatters.", cutoff=256)
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


def test_training_pairs_point_each_direction_at_the_real_side():
    pseudo_answer = Record(id="q1", original="instruction", instruction="Why?", response="Because.", iteration=1)
    (messages, target), = training_pairs([pseudo_answer], "bwd", PROMPTS)
    assert target == "Why?" and "Because." in messages[-1]["content"] and "user message" in messages[-1]["content"]
    pseudo_question = Record(id="a1", original="response", instruction="How?", response="Like this.", iteration=1)
    (messages, target), = training_pairs([pseudo_question], "fwd", PROMPTS)
    assert target == "Like this." and messages == [{"role": "user", "content": "How?"}]
