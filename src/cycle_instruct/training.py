"""LoRA fine-tuning of one direction (Q->A or A->Q), loss on the target tokens only.

A plain loop rather than transformers.Trainer: it is short, shows exactly what is
optimized, and logs the loss curve in the shape `dvc plots` draws.
"""

import math
import random

import numpy as np
import torch
from tqdm.auto import tqdm

from .prompts import backward_messages, forward_messages, render_prompt


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_pairs(records, direction: str, prompts) -> list[tuple[list[dict], str]]:
    """(messages, target): forward learns question -> response, backward response -> question."""
    if direction == "fwd":
        return [(forward_messages(prompts, r.instruction), r.response) for r in records]
    return [(backward_messages(prompts, r.response), r.instruction) for r in records]


def tokenize_pair(tokenizer, messages: list[dict], target: str, cutoff: int) -> tuple[list[int], list[int], bool]:
    """(input_ids, labels, truncated): labels are -100 on the prompt so only the target is learned."""
    plain = not getattr(tokenizer, "chat_template", None)
    prompt_ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=plain)["input_ids"]
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    truncated = len(prompt_ids) + len(target_ids) > cutoff
    if truncated:
        # keep at least half the budget for the target; cut the prompt from its start
        keep_target = min(len(target_ids), max(cutoff // 2, cutoff - len(prompt_ids)))
        target_ids = target_ids[:keep_target]
        prompt_ids = prompt_ids[len(prompt_ids) - (cutoff - keep_target) :]
    return prompt_ids + target_ids, [-100] * len(prompt_ids) + target_ids, truncated


def _collate(examples, pad_id):
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), -100)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        attention[row, : len(ids)] = 1
    return input_ids, labels, attention


def lora_model(model, cfg):
    """A fresh LoRA adapter on `model`; seeded, so the same data gives the same adapter."""
    from peft import LoraConfig, get_peft_model

    seed_everything(cfg.seed)
    config = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def train_lora(model, tokenizer, pairs: list[tuple[list[dict], str]], cfg) -> tuple[list[dict], dict]:
    """Train `model` (a PEFT model) in place on (messages, target) pairs.

    Returns the per-optimizer-step curve and a summary. The loss of one optimizer step is
    the mean over all target tokens in its effective batch, however it is split into
    micro-batches.
    """
    seed_everything(cfg.seed)
    cutoff = cfg.cutoff
    examples, truncated = [], 0
    for messages, target in pairs:
        ids, labels, cut = tokenize_pair(tokenizer, messages, target, cutoff)
        examples.append((ids, labels))
        truncated += cut
    micro = cfg.micro_batch
    accumulate = max(1, cfg.effective_batch // micro)
    epochs = cfg.epochs
    steps_per_epoch = math.ceil(len(examples) / (micro * accumulate))
    total_steps = max(1, steps_per_epoch * epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    from transformers import get_cosine_schedule_with_warmup

    warmup = int(cfg.warmup_ratio * total_steps)
    scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    model.train()
    curve, step = [], 0
    progress = tqdm(total=total_steps, desc="train", unit="step")
    for epoch in range(epochs):
        order = list(range(len(examples)))
        random.shuffle(order)
        group_size = micro * accumulate
        for g in range(0, len(order), group_size):
            group = [examples[i] for i in order[g : g + group_size]]
            n_target = sum(sum(1 for t in labels if t != -100) for _, labels in group)
            step_loss = 0.0
            for m in range(0, len(group), micro):
                input_ids, labels, attention = (t.to(model.device) for t in _collate(group[m : m + micro], tokenizer.pad_token_id))
                logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum"
                ) / max(1, n_target)
                loss.backward()
                step_loss += loss.item()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            curve.append({"step": step, "epoch": epoch + 1, "loss": round(step_loss, 5), "lr": scheduler.get_last_lr()[0]})
            progress.update(1)
            progress.set_postfix(loss=f"{step_loss:.3f}")
    progress.close()
    model.eval()
    summary = {
        "examples": len(examples),
        "truncated_examples": truncated,
        "optimizer_steps": step,
        "epochs": epochs,
        "first_loss": curve[0]["loss"] if curve else None,
        "final_loss": curve[-1]["loss"] if curve else None,
        "mean_loss_last_epoch": round(float(np.mean([c["loss"] for c in curve if c["epoch"] == epochs])), 5) if curve else None,
    }
    return curve, summary
