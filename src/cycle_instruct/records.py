"""The one record schema that flows through every stage, and its (atomic) file I/O.

A record is one instruction-response pair, or half of one before relabelling:
segment and reformat produce records with only the original side filled; relabel
fills the generated side; embed adds the reconstruction and its distance.
"""

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import jsonlines

from .errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)

INSTRUCTION = "instruction"
RESPONSE = "response"


@dataclass
class Record:
    id: str
    original: str  # which side is real text: "instruction" or "response"
    instruction: str | None = None
    response: str | None = None
    iteration: int = 0  # 0 until a model of iteration k generated the other side
    source: dict = field(default_factory=dict)  # {"doc": path, "paragraph": index}
    raw: str | None = None  # the paragraph before reformat rewrote it
    reconstruction: str | None = None  # set by embed: the original side regenerated
    distance: float | None = None  # set by embed: ||phi(original) - phi(reconstruction)||
    retrieved: list[str] | None = None  # set by relabel (relabel.context: retrieved): ids of the answer paragraphs M_QA was shown
    relevance: float | None = None  # set by embed: cosine of phi(instruction) and phi(response)
    support: float | None = None  # set by embed for a generated answer: how much of it the corpus states (support.py)

    @property
    def original_text(self) -> str:
        return self.instruction if self.original == INSTRUCTION else self.response

    @property
    def generated_text(self) -> str | None:
        return self.response if self.original == INSTRUCTION else self.instruction


_FIELDS = {f.name for f in fields(Record)}


def iter_jsonl(path, what: str):
    """(line number, object) of each line of a JSONL file; `what` says what the file should be, for
    the one-line error that names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; run the stage that produces it first (dvc repro, or dvc pull)")
    line_no = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield line_no, json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{line_no}: {what}: not JSON ({e.msg})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}:{line_no + 1}: {what}: not UTF-8 text") from None


def read_jsonl(path, what: str = "not a JSONL file of this pipeline") -> list:
    return [obj for _, obj in iter_jsonl(path, what)]


def iter_records(path):
    """The records of a JSONL file, one by one; anything else is one line naming the file and line."""
    what = "not a cycle-instruct record file (JSONL of records, such as data/final/cycle_filt.jsonl)"
    for line_no, obj in iter_jsonl(path, what):
        missing = [k for k in ("id", "original") if not isinstance(obj, dict) or k not in obj]
        if missing:
            raise UserError(f"{path}:{line_no}: {what}: no {' and no '.join(missing)}")
        yield Record(**{k: v for k, v in obj.items() if k in _FIELDS})


def read_records(path) -> list[Record]:
    return list(iter_records(path))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the renamed file gets the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_jsonl(path, rows) -> None:
    """One JSON object per line, written atomically (records, or an export format's rows)."""
    with atomic_path(path) as tmp, jsonlines.open(tmp, mode="w") as w:
        for row in rows:
            w.write(row)


def write_records(path, records) -> None:
    write_jsonl(path, (asdict(r) for r in records))


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found; run the stage that produces it first (dvc repro)")
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temp folder beside `path`; it replaces `path` only if the block succeeds."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def timed(path):
    """Write the block's wall time to `path` (None: nowhere), with any rates the block puts in
    the dict it is given (a training's tokens/s).

    Timings are kept apart from metrics so that `dvc metrics diff` shows what changed in
    the data, not how busy the machine was.
    """
    start, rates = time.perf_counter(), {}
    yield rates
    if path is not None:
        write_json(path, {"wall_seconds": round(time.perf_counter() - start, 2), **rates})
