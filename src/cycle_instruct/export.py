"""The final pairs (Cycle-Filt, then the optional judge) in the formats other tools read: one
function per format, and FORMATS, the one table of them. `messages` is the conversational
format that `tokenizer.apply_chat_template(row["messages"])` and TRL's SFTTrainer take as it is;
`parquet` holds each pair's provenance (original side, iteration, distance, relevance, support, source, retrieved paragraphs).
"""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from .errors import UserError
from .records import atomic_path, write_jsonl


def to_messages(r) -> dict:
    return {"id": r.id, "messages": [{"role": "user", "content": r.instruction}, {"role": "assistant", "content": r.response}]}


def to_sharegpt(r) -> dict:
    return {"id": r.id, "conversations": [{"from": "human", "value": r.instruction}, {"from": "gpt", "value": r.response}]}


def to_alpaca(r) -> dict:
    return {"id": r.id, "instruction": r.instruction, "input": "", "output": r.response}


def to_row(r) -> dict:
    return {
        "id": r.id,
        "instruction": r.instruction,
        "response": r.response,
        "original": r.original,
        "iteration": r.iteration,
        "distance": r.distance,
        "source_doc": r.source.get("doc"),
        "source_paragraph": r.source.get("paragraph"),
        "raw": r.raw,
        "reconstruction": r.reconstruction,
        "relevance": r.relevance,
        "support": r.support,
        "retrieved": r.retrieved,
    }


class Format(NamedTuple):
    file: str
    row: Callable  # one pair as a row of the format
    columns: str  # as the dataset card lists them


FORMATS = {  # export.formats (params.py's EXPORT_FORMATS names them too: tests/test_export.py checks they agree)
    "messages": Format("messages.jsonl", to_messages, "id, messages (user, assistant)"),
    "sharegpt": Format("sharegpt.jsonl", to_sharegpt, "id, conversations (from human/gpt, value)"),
    "alpaca": Format("alpaca.jsonl", to_alpaca, "id, instruction, input (empty), output"),
    "parquet": Format(
        "train.parquet",
        to_row,
        "id, instruction, response, original, iteration, distance, source_doc, source_paragraph, raw, reconstruction, relevance,"
        " support, retrieved",
    ),
}
JSONL_FORMATS = [name for name, f in FORMATS.items() if f.file.endswith(".jsonl")]  # one JSON line per pair
CONVERT = {name: f.row for name, f in FORMATS.items()}  # cycle-instruct show --format


def check_pairs(records, path) -> None:
    """Only full pairs can be exported: both sides must be there (cycle_filt.jsonl always has them)."""
    for r in records:
        for side in ("instruction", "response"):
            text = getattr(r, side)
            if not isinstance(text, str) or not text.strip():
                raise UserError(
                    f"{path}: record {r.id} has no {side}; export takes full pairs, such as data/final/cycle_filt.jsonl"
                )


def write_parquet(path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("instruction", pa.string()),
            ("response", pa.string()),
            ("original", pa.string()),
            ("iteration", pa.int32()),
            ("distance", pa.float64()),
            ("source_doc", pa.string()),
            ("source_paragraph", pa.int64()),
            ("raw", pa.string()),
            ("reconstruction", pa.string()),
            ("relevance", pa.float64()),
            ("support", pa.float64()),
            ("retrieved", pa.list_(pa.string())),
        ]
    )
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)


def write_format(folder, fmt: str, records) -> Path:
    path = Path(folder) / FORMATS[fmt].file
    rows = [FORMATS[fmt].row(r) for r in records]
    write_parquet(path, rows) if path.suffix == ".parquet" else write_jsonl(path, rows)
    return path


def files_digest(paths, root) -> str:
    """sha256 over every file's path (relative to `root`) and bytes, in path order."""
    h = hashlib.sha256()
    for path in sorted(paths, key=lambda p: Path(p).relative_to(root).as_posix()):
        name = Path(path).relative_to(root).as_posix().encode()
        h.update(len(name).to_bytes(8, "big") + name)
        with open(path, "rb") as f:
            h.update(Path(path).stat().st_size.to_bytes(8, "big"))
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
