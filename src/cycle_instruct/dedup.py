"""Near-duplicate pairs: find them (MinHash over the pair's words, or cosine of the originals'
embeddings), then keep the one with the lowest cycle distance of each group."""

import numpy as np

from .overlap import words

SHINGLE = 3  # words per shingle
NUM_PERM = 128  # MinHash permutations


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """Lower-cased word n-grams; a text shorter than `size` words is one shingle."""
    tokens = words(text)
    return {" ".join(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def lsh_bands(threshold: float, num_perm: int = NUM_PERM, recall: float = 0.999) -> tuple[int, int]:
    """(bands, rows) for MinHash LSH: the most rows per band (fewest false candidates) with which
    a pair of Jaccard similarity `threshold` still shares a band with probability >= recall."""
    for rows in range(num_perm, 1, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def minhash_neighbours(texts: list[str], threshold: float, seed: int) -> list[set[int]]:
    """For each text, the others whose word shingles have Jaccard similarity >= threshold.

    MinHash LSH proposes candidates, tuned to miss a pair at the threshold less than once in
    a thousand; each candidate is confirmed on the exact shingle sets, so a reported pair
    really is that similar.
    """
    from datasketch import MinHash, MinHashLSH

    sets = [shingles(t) for t in texts]
    lsh = MinHashLSH(num_perm=NUM_PERM, params=lsh_bands(threshold))
    hashes = []
    for i, s in enumerate(sets):
        m = MinHash(num_perm=NUM_PERM, seed=seed)
        m.update_batch(w.encode("utf-8") for w in sorted(s))
        lsh.insert(i, m)
        hashes.append(m)
    return [{j for j in lsh.query(m) if j != i and jaccard(sets[i], sets[j]) >= threshold} for i, m in enumerate(hashes)]


def embedding_neighbours(vectors: np.ndarray, sides: list[str], threshold: float, block: int = 1024) -> list[set[int]]:
    """For each row, the rows of the same side (both real questions, or both real answers)
    whose cosine similarity is >= threshold."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sides = np.asarray(sides)
    neighbours = [set() for _ in range(len(unit))]
    for start in range(0, len(unit), block):
        sims = unit[start : start + block] @ unit.T
        rows, cols = np.nonzero((sims >= threshold) & (sides[start : start + block, None] == sides[None, :]))
        for i, j in zip((rows + start).tolist(), cols.tolist()):
            if i != j:
                neighbours[i].add(j)
    return neighbours


def duplicates(distances: np.ndarray, neighbours: list[set[int]]) -> np.ndarray:
    """Boolean mask of the pairs to drop: from the lowest distance up (ties: file order), a pair
    is kept unless it is a near-duplicate of a pair already kept."""
    dropped = np.zeros(len(distances), dtype=bool)
    kept = set()
    for i in np.argsort(distances, kind="stable").tolist():
        if neighbours[i] & kept:
            dropped[i] = True
        else:
            kept.add(i)
    return dropped


def near_duplicates(method: str, records, vectors: np.ndarray, threshold: float, seed: int) -> np.ndarray:
    """Mask of `records` to drop as near-duplicates; method: minhash | embedding."""
    if method == "minhash":
        neighbours = minhash_neighbours([f"{r.instruction}\n{r.response}" for r in records], threshold, seed)
    elif method == "embedding":
        neighbours = embedding_neighbours(vectors, [r.original for r in records], threshold)
    else:
        raise ValueError(f"unknown near-duplicate method {method!r}")
    return duplicates(np.array([r.distance for r in records], dtype=float), neighbours)
