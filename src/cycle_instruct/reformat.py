"""Step 2 of the method: rewrite raw paragraphs into clean questions and responses."""

import re
from dataclasses import replace

from .generate import _normalize, generate, reject_reason, summarize
from .prompts import REFORMAT_ANSWER, REFORMAT_QUESTION, reformat_messages
from .records import INSTRUCTION
from .segment import is_question

_PREAMBLE = re.compile(
    r"^\s*((sure[,!.]?\s*)?here('s| is) (a |the |my )?[^\n:]{0,60}(rewrit|revis|reword|version)[^\n:]{0,60}"
    r"|the (text|question|response|answer|passage)( is| has been)? (re-?written|revised|reworded)( as| below)?)\s*:\s*",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(rewritten\s+)?(question|text|response|answer)\s*:\s*", re.IGNORECASE)


def clean_rewrite(text: str) -> str:
    """Drop a leading 'Here is a rewritten version:', 'The text is re-written as:' or 'Question:' that small models add."""
    return _LABEL.sub("", _PREAMBLE.sub("", text, count=1), count=1).strip()


def echoes_instructions(text: str, side: str, window: int = 5) -> bool:
    """True if the rewrite repeats a run of `window` words of the reformat prompt's own wording."""
    template = (REFORMAT_QUESTION if side == INSTRUCTION else REFORMAT_ANSWER).split("{text}")[0]
    words = _normalize(template).split()
    padded = f" {_normalize(text)} "
    return any(f" {' '.join(words[i : i + window])} " in padded for i in range(len(words) - window + 1))


def rewrite_reject_reason(text: str, source: str, side: str, finished: bool, max_length_ratio: float) -> str | None:
    if echoes_instructions(text, side):
        return "echo"
    if side == INSTRUCTION and not is_question(text):
        return "not_a_question"
    if len(text) > max_length_ratio * len(source) + 80:
        return "too_long"
    if not finished:
        return "unfinished"
    return None


def reformat_records(model, tokenizer, records, side: str, cfg: dict):
    """Rewrite the original side of every record; return (records, metrics)."""
    if not cfg.get("enabled", True) or not records:
        return records, {"in": len(records), "out": len(records), "rewritten": 0, "kept_raw": 0, "dropped": 0, "tokens_generated": 0}
    conversations = [reformat_messages(r.original_text, side) for r in records]
    generations = generate(model, tokenizer, conversations, cfg, desc=f"reformat {side}s")
    out, kept_raw, dropped = [], 0, 0
    for record, conv, g in zip(records, conversations, generations):
        g.text = clean_rewrite(g.text)
        g.reject = reject_reason(g.text, record.original_text, conv[-1]["content"], reject_echo=False) or rewrite_reject_reason(
            g.text, record.original_text, side, g.finished, float(cfg.get("max_length_ratio", 3.0))
        )
        if g.reject is None:
            out.append(replace(record, raw=record.original_text, **{side: g.text}))
        elif cfg.get("on_reject", "keep_raw") == "keep_raw":
            out.append(replace(record, raw=record.original_text))
            kept_raw += 1
        else:
            dropped += 1
    stats = summarize(generations)
    return out, {"in": len(records), "out": len(out), "rewritten": len(records) - stats["rejected"], "kept_raw": kept_raw, "dropped": dropped, **stats}
