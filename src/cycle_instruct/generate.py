"""Generation on either engine, in resumable batches, and the checks that reject a bad generation."""

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .engines import Completion
from .errors import UserError
from .overlap import rouge_l
from .prompts import ROLE_TAG_PATTERNS, prompt_ids, render_prompt
from .resume import Partial, files_identity, fingerprint
from .text import normalize

_LEAK = re.compile("|".join(ROLE_TAG_PATTERNS), re.IGNORECASE | re.MULTILINE)
# An assistant talking about itself or the conversation, never content a user asked for.
_FENCE_LINE = re.compile(r"^[^\S\n]*(?:```|~~~)", re.MULTILINE)
_BOILERPLATE = re.compile(
    "|".join(
        [
            r"\bas an? (helpful |friendly )?(ai|artificial intelligence)( language)? (model|assistant)\b",
            r"\bas an? (helpful |friendly )?(ai )?assistant\s*([,.;…]|\bI\b)",  # not "as an assistant counsel"
            r"\bI('m| am) (ready|here|happy|glad) to (help|assist)\b",
            r"\bhow (can|may) I (help|assist) you( today)?\s*[?.!]",
            r"\bwhat('s| is) (the |your )(user'?s? )?(message|request|question)\s*\?",
            r"\bI('m| am) sorry (for (any|the) confusion|,? but (as|I))",
            r"\bI (cannot|can't|am unable to|am not able to) (help|assist) (you )?with (that|this)\b",
            r"\bthis (response|answer|text) is (a |the )?(response|answer|reply) to\b",
            r"\b(please )?(provide|share|give me) (the |your )(user'?s? )?(message|text|question|response)\b",
            r"\bin this (rewritten|revised) (version|text|question|response)\b",  # reformat's comment on its own rewrite
            r"\bthis is a (fluent|coherent|rewritten|revised)(,? (and )?(fluent|coherent))? (text|response|version)\b",  # the same, appended
            r"\bI('m| am) (so )?glad (to (hear|know|see) that you|you('re| are) (interested|enjoying|finding|taking))\b",
            r"\bhere('s| is) (a |the |my )?(revised |rewritten |sample )?(version of )?(the |a )?(user'?s? )?(message|response|answer)\s*:",
            r"\bthe (answer|response) to the user'?s (question|message)\b",
            r"\bI('ve| have) (rephrased|rewritten|reworded|revised) (the|your) (original )?(text|question|response|passage)\b",
        ]
    ),
    re.IGNORECASE,
)


@dataclass
class Generation:
    text: str
    new_tokens: int
    finished: bool  # stopped at end-of-turn rather than at max_new_tokens
    reject: str | None = None  # why it is unusable, or None
    resumed: bool = False  # taken from the partial file of an interrupted run


def is_repetitive(text: str, n: int = 3, min_words: int = 24, min_unique: float = 0.5) -> bool:
    """A degenerate loop: fewer than half of the word n-grams of a longer text are distinct."""
    words = normalize(text).split()
    if len(words) < min_words:
        return False
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) < min_unique * len(grams)


def reject_reason(text: str, source: str, prompt: str, reject_echo: bool = True, max_copy: float | None = None) -> str | None:
    """Why `text` (generated from `source` via `prompt`) must not be used, or None.

    With `reject_echo`, a text that repeats its source or the prompt is an `echo`, and one
    whose ROUGE-L F1 with its source is `max_copy` or more a `copy`: a pseudo-label copied
    from its source would reconstruct perfectly and so win the cycle filter, while teaching
    nothing. (Reformat, a faithful rewrite of its source, checks neither.)
    """
    if not text.strip():
        return "empty"
    if _LEAK.search(text):
        return "template_leak"
    if _BOILERPLATE.search(text):
        return "boilerplate"
    if is_repetitive(text):
        return "repetitive"
    if len(_FENCE_LINE.findall(text)) % 2:
        return "unclosed_code"  # cut by max_new_tokens inside a code block: half a program
    if reject_echo:
        norm = normalize(text)
        if norm == normalize(source) or (len(norm) >= 20 and norm in normalize(prompt)):
            return "echo"
        if max_copy is not None and rouge_l(text, source) >= max_copy:
            return "copy"
    return None


def generate(
    engine,
    conversations: list[list[dict]],
    cfg,
    sources: list[str] | None = None,
    *,
    adapter=None,
    clean: Callable[[str], str] | None = None,
    check: Callable[[Generation, int], str | None] | None = None,
    reject_echo: bool = True,
    partial=None,
    desc="generate",
) -> list[Generation]:
    """Sample one reply per conversation on `engine` (with `adapter`, or the base model) and
    judge it: each Generation comes back finished.

    `sources[i]` is the text conversation i was made from; with it every reply gets the
    common checks (`reject_reason`), then the caller's own `check`. `clean` tidies a reply
    before it is checked. Prompts are sorted by length (little padding) and cut into batches
    of generate.batch_size; batch b is sampled with seed generate.seed + b, so a run resumed
    from `partial` (a resume.Partial) gives the same results as an uninterrupted one.
    """
    prompts = [render_prompt(engine.tokenizer, c) for c in conversations]
    check_prompt_length(engine, prompts, conversations, cfg)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    batches = [order[s : s + cfg.batch_size] for s in range(0, len(order), cfg.batch_size)]
    done = partial.batches if partial is not None else {}
    raw: dict[int, tuple[Completion, bool]] = {}
    todo = []
    for b, idx in enumerate(batches):
        if b in done and len(done[b]) == len(idx):
            raw.update((i, (Completion(**c), True)) for i, c in zip(idx, done[b]))
        else:
            todo.append((b, [prompts[i] for i in idx], cfg.seed + b))
    with tqdm(total=len(batches), initial=len(batches) - len(todo), desc=desc, unit="batch") as bar:
        for b, completions in engine.run_batches(todo, cfg, adapter=adapter):  # vLLM may finish them out of order
            if partial is not None:
                partial.add(b, [asdict(c) for c in completions])
            raw.update((i, (c, False)) for i, c in zip(batches[b], completions))
            bar.update()
    results = []
    for i in range(len(prompts)):
        c, resumed = raw[i]
        g = Generation(text=clean(c.text) if clean else c.text, new_tokens=c.new_tokens, finished=c.finished, resumed=resumed)
        if sources is not None:
            g.reject = reject_reason(g.text, sources[i], conversations[i][-1]["content"], reject_echo, cfg.max_copy_overlap)
            if g.reject is None and check is not None:
                g.reject = check(g, i)
        results.append(g)
    return results


def check_prompt_length(engine, prompts: list[str], conversations: list[list[dict]], cfg) -> None:
    """Every prompt and its reply must fit generate.max_model_len, on either engine, before anything is generated.

    Else vLLM refuses the batch and transformers tries to allocate the attention of the whole prompt
    (7 GB for a 1 MB template). A prompt has at most one token per UTF-8 byte (plus BOS), so only
    prompts that long are tokenized, the longest first: a run whose prompts all fit costs nothing.
    """
    room = cfg.max_model_len - cfg.max_new_tokens
    tokenizer = engine.tokenizer
    maybe = [i for size, i in sorted(((len(p.encode()) + 2, i) for i, p in enumerate(prompts)), reverse=True) if size > room]
    for start in range(0, len(maybe), 512):  # batched: the tokenizer's own threads, not a Python loop per prompt
        chunk = maybe[start : start + 512]
        lengths = [len(ids) for ids in prompt_ids(tokenizer, [prompts[i] for i in chunk])]
        over = next(((i, n) for i, n in zip(chunk, lengths) if n > room), None)
        if over:
            i, tokens = over
            break
    else:
        return
    file = getattr(conversations[i][-1]["content"], "file", "a prompt template")
    context = _model_context(getattr(engine, "base_dir", None))
    if context is None or context > cfg.max_model_len:
        longer = f", or raise generate.max_model_len up to the model's context{f' ({context} tokens)' if context else ''}"
    else:
        longer = f" (generate.max_model_len is already at or past the model's context, {context} tokens)"
    raise UserError(
        f"{file}: the longest prompt made from it is {tokens} tokens, and with its reply ({cfg.max_new_tokens} new tokens) "
        f"it does not fit generate.max_model_len ({cfg.max_model_len}); shorten the template or the paragraphs "
        f"(segment.max_chars){longer}"
    )


def _model_context(base_dir) -> int | None:
    """The longest input the model was built for (config.json's max_position_embeddings), if known."""
    try:
        config = json.loads((Path(base_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, TypeError, ValueError):
        return None
    context = config.get("max_position_embeddings") or config.get("n_positions")
    return context if isinstance(context, int) else None


def open_partial(name, engine, conversations: list[list[dict]], cfg, adapter=None) -> Partial:
    """The partial file of output `name`, keyed by everything that shapes its generations."""
    prompts = [render_prompt(engine.tokenizer, c) for c in conversations]
    # where the batches run (generate.cluster) does not change them: a run resumes on one machine or a cluster alike
    key = fingerprint(
        prompts, cfg.model_dump(exclude={"cluster"}), engine.name, files_identity(engine.base_dir), files_identity(adapter)
    )
    return Partial(name, key)


def summarize(generations: list[Generation]) -> dict:
    """Counts for metrics: how many, how many rejected and why, tokens produced."""
    reasons = Counter(g.reject for g in generations if g.reject)
    return {
        "generated": len(generations),
        "rejected": sum(reasons.values()),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "unfinished": sum(not g.finished for g in generations),
        "tokens_generated": sum(g.new_tokens for g in generations),
        "resumed": sum(g.resumed for g in generations),
    }
