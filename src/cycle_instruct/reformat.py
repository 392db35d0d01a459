"""Step 2 of the method: rewrite raw paragraphs into clean questions and responses."""

import re
from dataclasses import replace

from .generate import generate, reject_reason, summarize
from .prompts import reformat_messages
from .records import INSTRUCTION
from .segment import is_question

_LABEL = re.compile(r"^\s*(rewritten\s+)?(question|text|response|answer)\s*:\s*", re.IGNORECASE)


def clean_rewrite(text: str) -> str:
    """Drop a leading 'Question:' / 'Rewritten text:' label that small models like to add."""
    return _LABEL.sub("", text, count=1).strip()


def rewrite_reject_reason(text: str, source: str, side: str, finished: bool, max_length_ratio: float) -> str | None:
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
