"""Cycle distances ||phi(original) - phi(reconstruction)||: their stats, histogram and file."""

import contextlib
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

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


@contextlib.contextmanager
def embeddings_file(path, rows: int, dim: int):
    """A float32 (rows, dim) .npy memory map to fill in place; renamed into `path` only if the block succeeds."""
    with atomic_path(path) as tmp:
        array = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(rows, dim))
        yield array
        array.flush()


def load_embeddings(path) -> np.ndarray:
    """Memory-mapped: rows are read from disk as they are used, never the whole file at once."""
    if not Path(path).exists():
        raise UserError(f"{path}: embeddings not found; run dvc repro embed")
    return np.load(path, mmap_mode="r")
