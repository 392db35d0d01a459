"""Support: how much of a generated answer the corpus itself states.

The cycle filter cannot tell an invented answer from a true one: an answer that names the topic
rebuilds its question well whatever it claims. The documents can. A pseudo-answer's support is the
share of its content words (English stop words left out, words compared on their first five letters) that occur
in the corpus paragraphs nearest to it (by the sentence embedder, over the answer side). An answer
written from the documents reuses their words; an invented one brings its own names, numbers and
terms ("Sudo (Debug and Sync)", "Computer Assisted Proof of Concept"), which no nearby paragraph has.

Embedding similarity alone was measured and separates worse (docs/grounding.md): a sentence that
invents facts about the right topic is still close to that topic's paragraphs.
"""

import numpy as np

from .embedding import embed_chunks
from .fidelity import content_kept

NEAREST = 5  # paragraphs an answer is checked against


def word_support(answer: str, paragraphs: list[str]) -> float:
    """Share of the answer's content words (fidelity.content_words: no stop words, first five letters)
    that occur in `paragraphs` (1.0 for an answer without any)."""
    return content_kept("\n\n".join(paragraphs), answer)


def support_scores(index, answers: list[str], k: int = NEAREST) -> list[float]:
    """The support of each answer against the k paragraphs of `index` (retrieval.ParagraphIndex) nearest to it."""
    scores = []
    for start, block in embed_chunks(index.embedder, answers):
        _, positions = index.search(block, k)
        for answer, row in zip(answers[start : start + len(block)], positions):
            scores.append(round(word_support(answer, [index.texts[p] for p in row if p >= 0]), 4))
    return scores


def support_stats(values) -> dict:
    """The distribution of support scores: count, mean, quartiles, and the share below 0.5."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return {"pairs": 0}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "pairs": int(values.size),
        "mean": round(float(values.mean()), 4),
        "p25": round(float(q1), 4),
        "median": round(float(median), 4),
        "p75": round(float(q3), 4),
        "below_0.5": round(float((values < 0.5).mean()), 4),
    }
