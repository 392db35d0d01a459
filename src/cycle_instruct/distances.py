"""Cycle distances ||phi(original) - phi(reconstruction)||: their stats, histogram and file."""

from pathlib import Path

import numpy as np

from .errors import UserError
from .records import atomic_path


def l2_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1)


def distance_stats(values) -> dict:
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        return {"mean": None, "median": None, "p95": None}
    return {
        "mean": round(float(values.mean()), 5),
        "median": round(float(np.median(values)), 5),
        "p95": round(float(np.percentile(values, 95)), 5),
    }


def distance_histogram(kept, pruned, bins: int = 20) -> list[dict]:
    """Pairs per distance bin over [0, 2], kept beside pruned: the data of the filter's plot."""
    edges = np.linspace(0, 2, bins + 1)
    count = lambda values: np.histogram(np.asarray(values, dtype=float), bins=edges)[0].tolist()  # noqa: E731
    return [{"distance": round(float(lo), 2), "kept": k, "pruned": p} for lo, k, p in zip(edges[:-1], count(kept), count(pruned))]


def save_embeddings(path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def load_embeddings(path) -> np.ndarray:
    if not Path(path).exists():
        raise UserError(f"{path}: embeddings not found; run dvc repro embed")
    return np.load(path)
