"""Does a generated text still fit the text it was made from? Shared by reformat (a rewrite
must keep its source's meaning and, for a question, its content words) and relabel (a
pseudo-question must fit its own answer clearly better than the answers it was not written for).
"""

import re

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from .embedding import embed
from .overlap import words

MIN_OTHERS = 20  # specificity needs this many other answers: the mean over fewer, on one topic, is too noisy to tell


def similarities(embedder, texts: list[str], sources: list[str]) -> np.ndarray:
    """Cosine of each text with its source (normalised sentence embeddings, one batch)."""
    if not texts:
        return np.zeros(0)
    vectors = embed(embedder, list(texts) + list(sources))
    return np.sum(vectors[: len(texts)] * vectors[len(texts) :], axis=1)


def content_words(text: str) -> set[str]:
    """Words that carry content: no stopwords, compared on their first five letters ('bindings' = 'binding')."""
    return {w[:5] for w in words(text) if w not in ENGLISH_STOP_WORDS}


def content_kept(text: str, source: str) -> float:
    """Share of the source's content words that `text` keeps (1.0 when the source has none)."""
    wanted = content_words(source)
    return len(wanted & content_words(text)) / len(wanted) if wanted else 1.0


_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)\n\1[^\S\n]*$", re.M | re.S)


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks in `text` (the readers fence every code block), whitespace-normalised."""
    return [" ".join(m.group(2).split()) for m in _FENCE.finditer(text)]


def without_code(text: str) -> str:
    """`text` with each fenced code block replaced by a space: the prose around the code."""
    return _FENCE.sub(" ", text)


def keeps_code(text: str, source: str) -> bool:
    """A rewrite must carry its source's code blocks unchanged and add none: code is the one
    part of a paragraph where a 'fluent' rewording is a wrong answer (`pip install -r x` is
    not `pip install x`)."""
    return code_blocks(text) == code_blocks(source)


def specificity(embedder, questions: list[str], answers: list[str]) -> np.ndarray | None:
    """Per pair: cosine of the question with its own answer minus its mean cosine with every other
    answer of the run. A generic question ('Can you explain this?') fits any answer about as well
    as its own, so it scores near 0; a specific one scores high. None with fewer than MIN_OTHERS + 1
    answers, too few to tell.
    """
    n = len(questions)
    if n < MIN_OTHERS + 1:
        return None
    vectors = embed(embedder, list(questions) + list(answers))
    q, a = vectors[:n], vectors[n:]
    own = np.sum(q * a, axis=1)
    others = (q @ a.sum(axis=0) - own) / (n - 1)  # the mean over all other answers, without an n x n matrix
    return own - others
