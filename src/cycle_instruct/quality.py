"""Dataset quality without training: how well each pair's two sides belong together."""

import re

from .embedding import embed
from .evaluation import cosine_rows
from .generate import generate
from .prompts import judge_messages


def relevance(embedder, records) -> list[float]:
    """Cosine of each pair's instruction and response embeddings."""
    if not records:
        return []
    return cosine_rows(embed(embedder, [r.instruction for r in records]), embed(embedder, [r.response for r in records])).tolist()


def judge_scores(engine, records, generate_cfg, prompts, desc="judge") -> list[int | None]:
    """The base model's 1-5 rating of each pair (greedy, a few tokens); None where it gave no digit."""
    replies = generate(
        engine,
        [judge_messages(prompts, r.instruction, r.response) for r in records],
        generate_cfg.but(max_new_tokens=4, temperature=0),
        desc=desc,
    )
    return [int(m.group()) if (m := re.search(r"[1-5]", g.text)) else None for g in replies]
