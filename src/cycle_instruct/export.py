"""The Cycle-Filt pairs in the formats other tools read, one function per format.

- messages: {"id", "messages": [user, assistant]}, the conversational format that
  `tokenizer.apply_chat_template(row["messages"])` and TRL's SFTTrainer take as they are;
- sharegpt: {"id", "conversations": [{"from": "human"|"gpt", "value"}]};
- alpaca: {"id", "instruction", "input": "", "output"};
- parquet: one row per pair with its provenance (original side, iteration, distance, source).
"""

import hashlib
from pathlib import Path

from .errors import UserError
from .records import atomic_path, write_jsonl

FILES = {"messages": "messages.jsonl", "sharegpt": "sharegpt.jsonl", "alpaca": "alpaca.jsonl", "parquet": "train.parquet"}


def to_messages(r) -> dict:
    return {"id": r.id, "messages": [{"role": "user", "content": r.instruction}, {"role": "assistant", "content": r.response}]}


def to_sharegpt(r) -> dict:
    return {"id": r.id, "conversations": [{"from": "human", "value": r.instruction}, {"from": "gpt", "value": r.response}]}


def to_alpaca(r) -> dict:
    return {"id": r.id, "instruction": r.instruction, "input": "", "output": r.response}


def to_row(r) -> dict:
    return {
        "id": r.id, "instruction": r.instruction, "response": r.response, "original": r.original,
        "iteration": r.iteration, "distance": r.distance, "source_doc": r.source.get("doc"),
        "source_paragraph": r.source.get("paragraph"), "raw": r.raw, "reconstruction": r.reconstruction,
    }


CONVERT = {"messages": to_messages, "sharegpt": to_sharegpt, "alpaca": to_alpaca, "parquet": to_row}


def check_pairs(records, path) -> None:
    """Only full pairs can be exported: both sides must be there (cycle_filt.jsonl always has them)."""
    for r in records:
        for side in ("instruction", "response"):
            text = getattr(r, side)
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"{path}: record {r.id} has no {side}; export takes full pairs, such as data/final/cycle_filt.jsonl")


def write_parquet(path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("id", pa.string()), ("instruction", pa.string()), ("response", pa.string()), ("original", pa.string()),
        ("iteration", pa.int32()), ("distance", pa.float64()), ("source_doc", pa.string()),
        ("source_paragraph", pa.int64()), ("raw", pa.string()), ("reconstruction", pa.string()),
    ])
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)


def write_format(folder, fmt: str, records) -> Path:
    path = Path(folder) / FILES[fmt]
    rows = [CONVERT[fmt](r) for r in records]
    write_parquet(path, rows) if fmt == "parquet" else write_jsonl(path, rows)
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
