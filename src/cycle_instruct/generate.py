"""Batched, left-padded sampling, and the checks that reject a bad generation."""

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from .prompts import ROLE_TAG_PATTERNS, render_prompt

_LEAK = re.compile("|".join(ROLE_TAG_PATTERNS), re.IGNORECASE | re.MULTILINE)


@dataclass
class Generation:
    text: str
    new_tokens: int
    finished: bool  # stopped at end-of-turn rather than at max_new_tokens
    reject: str | None = None  # why it is unusable, or None


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def is_repetitive(text: str, n: int = 3, min_words: int = 24, min_unique: float = 0.5) -> bool:
    """A degenerate loop: fewer than half of the word n-grams of a longer text are distinct."""
    words = _normalize(text).split()
    if len(words) < min_words:
        return False
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) < min_unique * len(grams)


def reject_reason(text: str, source: str, prompt: str, reject_echo: bool = True) -> str | None:
    """Why `text` (generated from `source` via `prompt`) must not be used, or None."""
    if not text.strip():
        return "empty"
    if _LEAK.search(text):
        return "template_leak"
    if is_repetitive(text):
        return "repetitive"
    if reject_echo:
        norm = _normalize(text)
        if norm == _normalize(source) or (len(norm) >= 20 and norm in _normalize(prompt)):
            return "echo"
    return None


@torch.no_grad()
def generate(model, tokenizer, conversations: list[list[dict]], cfg, sources: list[str] | None = None, *,
             clean: Callable[[str], str] | None = None, check: Callable[[Generation, int], str | None] | None = None,
             reject_echo: bool = True, desc="generate") -> list[Generation]:
    """Sample one reply per conversation and judge it: each Generation comes back finished.

    `sources[i]` is the text conversation i was made from; with it every reply gets the
    common checks (`reject_reason`), then the caller's own `check`. `clean` tidies a reply
    before it is checked. Prompts are sorted by length to waste little padding.
    """
    prompts = [render_prompt(tokenizer, c) for c in conversations]
    plain = not getattr(tokenizer, "chat_template", None)  # chat templates add BOS themselves
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    eos_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    sampling = dict(do_sample=cfg.temperature > 0, max_new_tokens=cfg.max_new_tokens)
    if cfg.temperature > 0:
        sampling.update(temperature=cfg.temperature, top_k=cfg.top_k)
    torch.manual_seed(cfg.seed)
    results: list[Generation | None] = [None] * len(prompts)
    for start in tqdm(range(0, len(order), cfg.batch_size), desc=desc, unit="batch"):
        idx = order[start : start + cfg.batch_size]
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=plain)
        enc = enc.to(model.device)
        out = model.generate(**enc, **sampling, pad_token_id=tokenizer.pad_token_id, top_p=None)
        for row, i in enumerate(idx):
            ids = out[row, enc["input_ids"].shape[1] :].tolist()
            stop = next((n for n, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if stop is None else ids[:stop]
            text = tokenizer.decode(kept, skip_special_tokens=False).strip()
            g = Generation(text=clean(text) if clean else text, new_tokens=len(kept) + (stop is not None), finished=stop is not None)
            if sources is not None:
                g.reject = reject_reason(g.text, sources[i], conversations[i][-1]["content"], reject_echo)
                if g.reject is None and check is not None:
                    g.reject = check(g, i)
            results[i] = g
    return results


def summarize(generations: list[Generation]) -> dict:
    """Counts for metrics: how many, how many rejected and why, tokens produced."""
    reasons = Counter(g.reject for g in generations if g.reject)
    return {
        "generated": len(generations),
        "rejected": sum(reasons.values()),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "unfinished": sum(not g.finished for g in generations),
        "tokens_generated": sum(g.new_tokens for g in generations),
    }
