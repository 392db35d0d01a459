"""Step 2 of the method: rewrite raw paragraphs into clean questions and responses."""

import re
from dataclasses import replace

from .fidelity import content_kept, keeps_code, similarities
from .generate import generate, open_partial, summarize
from .prompts import reformat_messages
from .questions import is_question
from .records import INSTRUCTION
from .text import normalize

_PREAMBLE = re.compile(
    r"^\s*((sure[,!.]?\s*)?here('s| is) (a |the |my )?[^\n:]{0,60}(rewrit|revis|reword|version)[^\n:]{0,60}"
    r"|the (text|question|response|answer|passage)( is| has been)? (re-?written|revised|reworded)( as| below)?)\s*:\s*",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^\s*((rewritten\s+)?(question|text|response|answer)|rewrite the (text|question|response|answer)\b[^\n:]{0,60})\s*:\s*",
    re.IGNORECASE,
)


def clean_rewrite(text: str) -> str:
    """Drop a leading 'Here is a rewritten version:', 'The text is re-written as:', 'Rewrite the text as:' or 'Question:' that small models add."""
    return _LABEL.sub("", _PREAMBLE.sub("", text, count=1), count=1).strip()


def echoes_instructions(text: str, wording: str, window: int = 5) -> bool:
    """True if the rewrite repeats a run of `window` words of the reformat prompt's own `wording`."""
    words = normalize(wording).split()
    padded = f" {normalize(text)} "
    return any(f" {' '.join(words[i : i + window])} " in padded for i in range(len(words) - window + 1))


def rewrite_reject_reason(text: str, source: str, side: str, finished: bool, cfg, wording: str, question_rule: str) -> str | None:
    """Why a rewrite is unusable (`cfg`: the reformat section; `wording`: the reformat prompt's
    text before the source; `question_rule`: segment.question_rule, so that a question stays one
    by the rule that made its source one), or None. The embedding check (`drifted`) runs after, on the whole batch."""
    if echoes_instructions(text, wording):
        return "echo"
    if side == INSTRUCTION and not is_question(text, question_rule):
        return "not_a_question"
    if side == INSTRUCTION and content_kept(text, source) < cfg.min_content_kept:
        return "lost_content"  # "I can't get key bindings to work in Tkinter: why?" -> "Why?"
    if not keeps_code(text, source):
        return "changed_code"  # an invented ```python block after "To install them, run:"
    if len(text) > cfg.max_length_ratio * len(source) + 80:
        return "too_long"
    if not finished:
        return "unfinished"
    return None


def reformat_records(engine, records, side: str, cfg, generate_cfg, prompts, embedder, question_rule: str, resume_as=None):
    """Rewrite the original side of every record with the base model; return (records, metrics).

    `cfg` is the reformat section; `generate_cfg` the sampling, with reformat's token budget;
    `embedder` (embedding.load_embedder) scores each rewrite against its source; `question_rule`
    is segment.question_rule.
    """
    if not cfg.enabled or not records:
        return records, {
            "in": len(records),
            "out": len(records),
            "rewritten": 0,
            "kept_raw": 0,
            "dropped": 0,
            "tokens_generated": 0,
        }
    sources = [r.original_text for r in records]
    conversations, sampling = (
        [reformat_messages(prompts, t, side) for t in sources],
        generate_cfg.but(max_new_tokens=cfg.max_new_tokens),
    )
    wording = prompts.preamble("reformat_question" if side == INSTRUCTION else "reformat_answer")
    generations = generate(
        engine,
        conversations,
        sampling,
        sources=sources,
        clean=clean_rewrite,
        reject_echo=False,
        desc=f"reformat {side}s",
        check=lambda g, i: rewrite_reject_reason(g.text, sources[i], side, g.finished, cfg, wording, question_rule),
        partial=open_partial(resume_as, engine, conversations, sampling) if resume_as else None,
    )
    kept = [i for i, g in enumerate(generations) if g.reject is None]
    for i, similarity in zip(kept, similarities(embedder, [generations[i].text for i in kept], [sources[i] for i in kept])):
        if similarity < cfg.min_similarity:
            generations[i].reject = "drifted"  # `.. only:: html` -> a story about a new employee
    out, kept_raw, dropped = [], 0, 0
    for record, g in zip(records, generations):
        if g.reject is None:
            out.append(replace(record, raw=record.original_text, **{side: g.text}))
        elif cfg.on_reject == "keep_raw":
            out.append(replace(record, raw=record.original_text))
            kept_raw += 1
        else:
            dropped += 1
    stats = summarize(generations)
    return out, {
        "in": len(records),
        "out": len(out),
        "rewritten": len(records) - stats["rejected"],
        "kept_raw": kept_raw,
        "dropped": dropped,
        **stats,
        "engine": engine.name,
        "engine_reason": engine.reason,
    }
