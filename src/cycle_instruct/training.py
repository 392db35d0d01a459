"""LoRA fine-tuning of one direction (Q->A or A->Q), loss on the target tokens only.

A plain loop rather than transformers.Trainer: it is short, shows exactly what is
optimized, and logs the loss curve in the shape `dvc plots` draws. What makes it scale:
- micro-batches hold examples of about the same length, so little compute goes to padding;
- the LM head runs on the target positions only: no logits for the prompt or the padding;
- gradient checkpointing and bf16 autocast on GPUs (train.gradient_checkpointing, train.autocast);
- several processes (train.num_processes, started by `accelerate launch`) share each
  optimizer step: each takes its share of the step's micro-batches, and their gradients are
  summed once per step, so the effective batch, the loss normalisation, clipping and the
  curve mean the same as in one process.
"""

import os
import random
import time
from contextlib import nullcontext

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint
from tqdm.auto import tqdm

from .errors import UserError
from .prompts import backward_messages, forward_messages, prompt_ids, render_prompt

LOSS_CHUNK = 2**27  # logits (target positions x vocabulary) that exist at once: 0.5 GiB in fp32, 1,046 rows of a 128k vocabulary
MEGABATCH = 50  # micro-batches sorted by length together (as transformers' group_by_length): random order, little padding


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
    prompt_tokens = prompt_ids(tokenizer, render_prompt(tokenizer, messages))
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    truncated = len(prompt_tokens) + len(target_ids) > cutoff
    if truncated:
        # keep at least half the budget for the target; cut the prompt from its start
        keep_target = min(len(target_ids), max(cutoff // 2, cutoff - len(prompt_tokens)))
        target_ids = target_ids[:keep_target]
        prompt_tokens = prompt_tokens[len(prompt_tokens) - (cutoff - keep_target) :]
    return prompt_tokens + target_ids, [-100] * len(prompt_tokens) + target_ids, truncated


def check_cutoff(tokenizer, direction: str, prompts, cutoff: int, prompt_file: str = "the prompt") -> None:
    """train.cutoff must hold the prompt template (with an empty source) and at least one target token."""
    messages = forward_messages(prompts, "") if direction == "fwd" else backward_messages(prompts, "")
    template = len(prompt_ids(tokenizer, render_prompt(tokenizer, messages)))
    if cutoff <= template:
        raise UserError(
            f"train.cutoff = {cutoff} is not above the prompt template alone ({prompt_file} with an empty source: {template} tokens); "
            f"set train.cutoff well above {template} (the paper: 1024)"
        )


def check_processes(n: int) -> None:
    """train.num_processes: at most one process per GPU, or per CPU core on a machine without one."""
    if torch.cuda.is_available():
        have, what = torch.cuda.device_count(), "GPU(s)"
    else:
        have, what = len(os.sched_getaffinity(0)), "CPU cores and no GPU (more processes than cores only slow training down)"
    if n > have:
        raise UserError(
            f"train.num_processes = {n}, but this machine has {have} {what}; set train.num_processes to at most {have}"
        )


def process_group() -> tuple[int, int]:
    """(rank, number of processes). Under `accelerate launch` this joins the process group
    (gloo on CPU, NCCL on GPUs) and selects this process's GPU; alone it is (0, 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return state.process_index, state.num_processes


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
    model = get_peft_model(model, config)
    for saved in model.peft_config.values():  # PEFT turns all-linear into a set, which adapter_config.json would
        if isinstance(saved.target_modules, set):  # list in string-hash order: other bytes, another DVC hash, each run
            saved.target_modules = sorted(saved.target_modules)
    return model


def plan_steps(lengths: list[int], micro: int, per_step: int, group_by_length: bool, rng: random.Random) -> list[list[list[int]]]:
    """One epoch: optimizer steps, each a list of `per_step` micro-batches of example indices.

    Random order; grouped by length, each run of MEGABATCH micro-batches is sorted by length
    before it is cut into micro-batches, and the micro-batches are shuffled again, so a
    micro-batch holds examples of about the same length while the steps stay random.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        span = micro * MEGABATCH  # a multiple of micro: only the epoch's last micro-batch can be short
        order = [i for s in range(0, len(order), span) for i in sorted(order[s : s + span], key=lambda i: -lengths[i])]
    batches = [order[b : b + micro] for b in range(0, len(order), micro)]
    if group_by_length:
        rng.shuffle(batches)
    return [batches[s : s + per_step] for s in range(0, len(batches), per_step)]


def _base(model):
    """The transformers model under PEFT's wrapper."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _body_and_head(model):
    """The decoder body and the LM head (PEFT's all-linear LoRA leaves the head out, its layers in)."""
    base = _base(model)
    try:
        return base.get_decoder(), base.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None, None


def target_loss(model, input_ids, labels, attention, full_logits: bool = False) -> torch.Tensor:
    """Summed cross-entropy of the target tokens (labels != -100), each predicted from the position before it.

    By default the LM head runs only on the hidden states of those positions: a vocabulary of
    128k × 4 × 1024 positions is 2 GB of fp32 logits per micro-batch, of which only the target
    rows carry loss; and at most LOSS_CHUNK logits exist at a time. `full_logits` is the plain
    forward (all positions), for models whose forward does more after the head, and the
    reference the benchmark compares with.
    """
    targets = labels[:, 1:]
    if full_logits:
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100, reduction="sum"
        )
    body, head = _body_and_head(model)
    keep = targets != -100
    hidden, targets = body(input_ids=input_ids, attention_mask=attention).last_hidden_state[:, :-1][keep], targets[keep]
    rows = max(1, LOSS_CHUNK // head.weight.shape[0])
    if len(hidden) <= rows:
        return _head_loss(head, hidden, targets)
    # more targets than one chunk: only one chunk's logits exist at a time, each recomputed in backward
    return sum(
        checkpoint(_head_loss, head, hidden[s : s + rows], targets[s : s + rows], use_reentrant=False)
        for s in range(0, len(hidden), rows)
    )


def _head_loss(head, hidden, targets):
    return torch.nn.functional.cross_entropy(head(hidden).float(), targets, reduction="sum")


@torch.no_grad()
def head_is_plain(model, ids: list[int]) -> bool:
    """Whether body + LM head give the model's own logits (no soft-capping or scaling after the head)."""
    body, head = _body_and_head(model)
    if body is None or head is None:
        return False
    was_training = model.training
    model.eval()
    x = torch.tensor([ids[:16]], device=model.device)
    same = torch.allclose(
        head(body(input_ids=x).last_hidden_state).float(), model(input_ids=x).logits.float(), rtol=1e-3, atol=1e-3
    )
    model.train(was_training)
    return same


def _gradient_checkpointing(model, setting) -> bool:
    """auto: on GPUs (memory is scarce there), off on CPU (recomputing costs about a third more time)."""
    if setting is False or (setting == "auto" and not torch.cuda.is_available()):
        return False
    base = _base(model)
    if not getattr(base, "supports_gradient_checkpointing", False):
        if setting == "auto":
            return False
        raise UserError(
            f"train.gradient_checkpointing: true, but {type(base).__name__} does not support gradient checkpointing; set it to auto or false"
        )
    # non-reentrant: works with frozen embeddings (LoRA) and with the gradients summed across processes
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return True


def _bf16_autocast(setting: str, device_type: str) -> bool:
    gpu_bf16 = device_type == "cuda" and torch.cuda.is_bf16_supported()
    if setting == "bf16" and device_type == "cuda" and not gpu_bf16:
        raise UserError("train.autocast: bf16, but this GPU has no bfloat16 support; set train.autocast: auto or off")
    return setting == "bf16" or (setting == "auto" and gpu_bf16)


def _sum_across_processes(params, step_loss: torch.Tensor) -> torch.Tensor:
    """What DDP does, once per optimizer step: each process gets the sum of every process's
    gradients (each already divided by the step's global target-token count) and losses.
    One all-reduce of the LoRA gradients; a process with no micro-batch in a step adds zeros."""
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).float().flatten() for p in params]
        + [step_loss.float().reshape(1)]
    )
    torch.distributed.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p).to(p.dtype)
        offset += p.numel()
    return flat[-1]


def train_lora(model, tokenizer, pairs: list[tuple[list[dict], str]], cfg, full_logits: bool = False) -> tuple[list[dict], dict]:
    """Train `model` (a PEFT model) in place on (messages, target) pairs.

    Returns the per-optimizer-step curve and a summary. The loss of one optimizer step is
    the mean over all target tokens in its effective batch, however it is split into
    micro-batches and processes.
    """
    rank, world = process_group()
    seed_everything(cfg.seed + rank)  # dropout differs per process; the data order below does not
    examples, truncated = [], 0
    for messages, target in pairs:
        ids, labels, cut = tokenize_pair(tokenizer, messages, target, cfg.cutoff)
        examples.append((ids, labels))
        truncated += cut
    lengths = [len(ids) for ids, _ in examples]
    n_targets = [sum(1 for t in labels if t != -100) for _, labels in examples]
    micro, epochs = cfg.micro_batch, cfg.epochs
    per_step = cfg.effective_batch // micro  # micro-batches per optimizer step, over all processes
    rng = random.Random(cfg.seed)
    plan = [
        (epoch, step) for epoch in range(1, epochs + 1) for step in plan_steps(lengths, micro, per_step, cfg.group_by_length, rng)
    ]
    batches = [batch for _, step in plan for batch in step]
    real_tokens = sum(lengths[i] for batch in batches for i in batch)
    processed = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)

    params = [p for p in model.parameters() if p.requires_grad]
    if world > 1:
        for p in params:  # every process starts from rank 0's adapter
            torch.distributed.broadcast(p.data, src=0)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    from transformers import get_cosine_schedule_with_warmup

    total_steps = max(1, len(plan))
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    checkpointing = _gradient_checkpointing(model, cfg.gradient_checkpointing)
    bf16 = _bf16_autocast(cfg.autocast, model.device.type)
    full_logits = full_logits or (bool(examples) and not head_is_plain(model, examples[0][0]))
    model.train()
    curve = []
    progress = tqdm(total=total_steps, desc="train", unit="step", disable=rank != 0)
    start = time.perf_counter()
    for step_no, (epoch, step) in enumerate(plan, 1):
        n_target = max(1, sum(n_targets[i] for batch in step for i in batch))
        step_loss = torch.zeros((), device=model.device)
        for batch in step[rank::world]:  # this process's share of the step
            input_ids, labels, attention = (
                t.to(model.device) for t in _collate([examples[i] for i in batch], tokenizer.pad_token_id)
            )
            with torch.autocast(model.device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
                loss = target_loss(model, input_ids, labels, attention, full_logits) / n_target
            loss.backward()
            step_loss += loss.detach()
        if world > 1:
            step_loss = _sum_across_processes(params, step_loss)
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        curve.append({"step": step_no, "epoch": epoch, "loss": round(step_loss.item(), 5), "lr": scheduler.get_last_lr()[0]})
        progress.update(1)
        progress.set_postfix(loss=f"{curve[-1]['loss']:.3f}")
    seconds = time.perf_counter() - start
    progress.close()
    if checkpointing:
        _base(model).gradient_checkpointing_disable()
    model.eval()
    summary = {
        "examples": len(examples),
        "truncated_examples": truncated,
        "optimizer_steps": len(curve),
        "epochs": epochs,
        "first_loss": curve[0]["loss"] if curve else None,
        "final_loss": curve[-1]["loss"] if curve else None,
        "mean_loss_last_epoch": round(float(np.mean([c["loss"] for c in curve if c["epoch"] == epochs])), 5) if curve else None,
        "processes": world,
        "real_tokens": real_tokens,
        "padded_tokens": processed - real_tokens,
        "padding_fraction": round((processed - real_tokens) / processed, 4) if processed else 0.0,
        "tokens_per_s": round(real_tokens / seconds, 1) if seconds > 0 else None,
        "group_by_length": cfg.group_by_length,
        "loss_on": "all positions" if full_logits else "target positions",
        "gradient_checkpointing": checkpointing,
        "autocast": "bf16" if bf16 else "off",
    }
    return curve, summary
