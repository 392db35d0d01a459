"""Grounding: the corpus paragraphs nearest to a text, found over the unpaired answer side.

M_QA invents facts when it answers a real question from its weights alone. The documents usually
hold the answer: for each real question, the k answer paragraphs nearest to it (cosine of the
sentence embedder's unit vectors, exact inner product in faiss) go into its prompt. No
question-answer link is used, so the method stays seed-free: retrieval runs over the answer side
as segment left it, unpaired.
"""

import faiss
import numpy as np

from .embedding import dimension, embed_chunks


class ParagraphIndex:
    """The corpus's paragraphs (ids and texts) and their unit embeddings, searchable by inner product."""

    def __init__(self, embedder, ids: list[str], texts: list[str]):
        self.ids, self.texts, self.embedder = list(ids), list(texts), embedder
        self.index = faiss.IndexFlatIP(dimension(embedder))  # exact: a million 384-dim paragraphs search in seconds a batch
        for _, block in embed_chunks(embedder, self.texts):
            self.index.add(np.ascontiguousarray(block, dtype=np.float32))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, positions) of the k nearest paragraphs of each row of `vectors` (unit length)."""
        k = min(k, len(self.ids))
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def nearest(self, texts: list[str], k: int) -> list[list[tuple[int, float]]]:
        """For each text, its k nearest paragraphs as (position, cosine), best first."""
        found = []
        for _, block in embed_chunks(self.embedder, texts):
            scores, positions = self.search(block, k)
            found += [[(int(p), float(s)) for p, s in zip(row_p, row_s) if p >= 0] for row_p, row_s in zip(positions, scores)]
        return found


def fill_budget(paragraphs: list[tuple[int, float]], texts: list[str], budget: int) -> list[tuple[int, float]]:
    """The nearest paragraphs, best first, as many as fit in `budget` characters together (the
    first always fits: params check that the budget holds the longest paragraph segment writes)."""
    chosen, used = [], 0
    for position, score in paragraphs:
        size = len(texts[position])
        if chosen and used + size > budget:
            break
        chosen.append((position, score))
        used += size
    return chosen


def context_text(texts: list[str]) -> str:
    """The retrieved paragraphs as the prompt shows them: numbered, a blank line apart."""
    return "\n\n".join(f"[{n}] {text}" for n, text in enumerate(texts, 1))
