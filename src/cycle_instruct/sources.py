"""Input adapters: every raw format the paper evaluates becomes unpaired question and answer texts.

- text: .txt/.md files, or JSONL/JSON records with a text field; paragraphs split at blank
  lines, a paragraph with a question mark is a question (segment.py).
- instructions: Alpaca/Dolly/flashcards-style records; as in the paper each gold pair gives
  only one side to the loop, chosen at random with a fixed seed; the full pair goes to the
  gold file, never into the training path.
- dialogue: OpenAssistant message trees, flat chat JSONL (`messages` with roles) and ShareGPT
  (`conversations` with from/value). User turns are questions, assistant turns answers;
  which answer replied to which question is dropped (kept only in the gold file).
"""

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .records import INSTRUCTION, RESPONSE
from .segment import TEXT_SUFFIXES, BinaryFile, is_question, read_document, split_paragraphs

JSON_SUFFIXES = (".jsonl", ".json")
USER_ROLES = {"user", "human", "prompter"}
ASSISTANT_ROLES = {"assistant", "gpt", "bot", "model", "chatgpt"}
SKIP_HINT = "fix it, or set segment.on_bad_record: skip to skip and count such records"


@dataclass
class Item:
    """One text on its way into the loop, before ids are given."""

    side: str  # INSTRUCTION (question) or RESPONSE (answer)
    text: str
    source: dict
    gold: tuple[str, str] | None = None  # the full (instruction, response) pair it came from


@dataclass
class Corpus:
    items: list[Item] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)


class BadRecord(Exception):
    pass


def load_corpus(cfg) -> Corpus:
    """Read segment.input in segment.format; bad records raise (or are counted, per params)."""
    fmt = cfg.format
    reader = _Reader(cfg)
    paths = find_inputs(cfg.input)
    for path in paths:
        try:
            reader.read(path, fmt)
        except BinaryFile:
            if len(paths) == 1:
                raise
            print(f"warning: {path}: binary file skipped", flush=True)
            reader.corpus.stats["skipped_binary_files"] += 1
    if not reader.corpus.items and len(paths) == 1 and reader.corpus.stats["empty_files"]:
        raise UserError(f"{paths[0]}: file is empty; point segment.input at your corpus")
    return reader.corpus


def find_inputs(spec: str) -> list[Path]:
    """A file, a folder (its text and JSON files, recursively) or a glob pattern."""
    import glob

    path = Path(spec)
    if path.is_file():
        return [path]
    suffixes = TEXT_SUFFIXES + JSON_SUFFIXES
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise UserError(f"{spec}: folder holds no .txt, .md, .jsonl or .json files; put your corpus there or set segment.input")
        return files
    matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if matches:
        return matches
    raise UserError(f"{spec}: no such file, folder or glob match; set segment.input in params.yaml to your corpus")


class _Reader:
    def __init__(self, cfg):
        self.cfg = cfg
        self.fields = cfg.fields.model_dump()
        self.skip_bad = cfg.on_bad_record == "skip"
        self.rng = random.Random(cfg.seed)
        self.question_share = cfg.question_share
        self.corpus = Corpus()

    # --- dispatch -------------------------------------------------------------------------
    def read(self, path: Path, fmt: str) -> None:
        stats = self.corpus.stats
        stats["files"] += 1
        if path.stat().st_size == 0:
            stats["empty_files"] += 1
            return
        if path.suffix.lower() in TEXT_SUFFIXES and fmt in ("auto", "text"):
            self._text_document(read_document(path), {"doc": str(path)})
            return
        if path.suffix.lower() not in JSON_SUFFIXES:
            raise UserError(f"{path}: segment.format '{fmt}' needs .jsonl or .json files; set segment.format: text for plain text")
        records = list(self._json_records(path))
        if not records:
            stats["empty_files"] += 1
            return
        kind = self._detect(path, records[0][1]) if fmt == "auto" else fmt
        if kind == "dialogue":
            kind = "oasst" if "message_id" in records[0][1] else "chat"
        getattr(self, f"_{kind}")(path, records)

    def _detect(self, path: Path, first: dict) -> str:
        keys = set(first)
        if {"message_id", "parent_id"} <= keys or "messages" in keys or "conversations" in keys:
            return "dialogue"
        if {self.fields["instruction"], self.fields["response"]} <= keys:
            return "instructions"
        if self.fields["text"] in keys:
            return "text"
        raise UserError(
            f"{path}:1: cannot tell the format from the fields {sorted(keys)}; "
            "set segment.format (text, instructions, dialogue) and segment.fields"
        )

    def bad(self, path: Path, line: int, message: str, count_as: str) -> None:
        if not self.skip_bad:
            raise UserError(f"{path}:{line}: {message}; {SKIP_HINT}")
        self.corpus.stats[f"skipped_{count_as}"] += 1

    # --- JSON / JSONL ---------------------------------------------------------------------
    def _json_records(self, path: Path):
        """(line number, object) for each record; JSON arrays count items as lines."""
        text = read_document(path)
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix the file")
            if isinstance(data, dict):  # {"data": [...]} style wrappers
                data = next((v for v in data.values() if isinstance(v, list)), [data])
            lines = enumerate(data, 1)
        else:
            lines = ((n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip())
        for n, value in lines:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    self.bad(path, n, f"malformed JSON ({e.msg} at column {e.colno})", "malformed_lines")
                    continue
            if not isinstance(value, dict):
                self.bad(path, n, f"expected a JSON object, got {type(value).__name__}", "malformed_lines")
                continue
            yield n, value

    def _string(self, path, n, record, key, required=True) -> str | None:
        value = record.get(key)
        if value is None:
            if required:
                self.bad(path, n, f"record has no field '{key}' (set segment.fields to your field names)", "missing_field")
                raise BadRecord
            return None
        if not isinstance(value, str):
            self.bad(path, n, f"field '{key}' is a {type(value).__name__}, expected a string", "wrong_type")
            raise BadRecord
        return value

    # --- the formats ----------------------------------------------------------------------
    def _text_document(self, text: str, source: dict) -> None:
        for index, paragraph in enumerate(split_paragraphs(text)):
            side = INSTRUCTION if is_question(paragraph) else RESPONSE
            self.corpus.items.append(Item(side, paragraph, {**source, "paragraph": index}))

    def _text(self, path, records) -> None:
        for n, record in records:
            try:
                text = self._string(path, n, record, self.fields["text"])
            except BadRecord:
                continue
            self._text_document(text, {"doc": f"{path}:{n}"})

    def _instructions(self, path, records) -> None:
        f = self.fields
        for n, record in records:
            try:
                instruction = self._string(path, n, record, f["instruction"])
                response = self._string(path, n, record, f["response"])
                context = self._string(path, n, record, f["context"], required=False) if f.get("context") else None
            except BadRecord:
                continue
            if context and context.strip():
                instruction = f"{instruction.strip()}\n\n{context.strip()}"
            if not instruction.strip() or not response.strip():
                self.corpus.stats["empty_pairs"] += 1
                continue
            pair = (instruction.strip(), response.strip())
            side = INSTRUCTION if self.rng.random() < self.question_share else RESPONSE
            text = pair[0] if side == INSTRUCTION else pair[1]
            self.corpus.items.append(Item(side, text, {"doc": f"{path}:{n}", "paragraph": 0}, gold=pair))
            self.corpus.stats["gold_pairs"] += 1

    def _turn(self, path, n, role, text, turn) -> str | None:
        """Add one dialogue turn; return its side, or None if nothing was added (system, empty)."""
        role = str(role).lower()
        if role in USER_ROLES:
            side = INSTRUCTION
        elif role in ASSISTANT_ROLES:
            side = RESPONSE
        elif role == "system":
            return None
        else:
            self.bad(path, n, f"unknown role '{role}' (expected user/assistant, human/gpt or prompter/assistant)", "unknown_role")
            return None
        if not text.strip():
            self.corpus.stats["empty_turns"] += 1
            return None
        self.corpus.items.append(Item(side, text.strip(), {"doc": f"{path}:{n}", "paragraph": turn}))
        return side

    def _chat(self, path, records) -> None:
        for n, record in records:
            turns = record.get("messages", record.get("conversations"))
            if not isinstance(turns, list):
                self.bad(path, n, "expected a 'messages' or 'conversations' list", "wrong_type")
                continue
            previous = None
            for index, turn in enumerate(turns):
                if not isinstance(turn, dict):
                    self.bad(path, n, f"turn {index} is a {type(turn).__name__}, expected an object", "wrong_type")
                    break
                role, text = turn.get("role", turn.get("from")), turn.get("content", turn.get("value"))
                if role is None or not isinstance(text, str):
                    self.bad(path, n, f"turn {index} needs a role/from and a string content/value", "wrong_type")
                    break
                side = self._turn(path, n, role, text, index)
                if side == RESPONSE and previous is not None:
                    self.corpus.items[-1].gold = (previous, text.strip())
                previous = text.strip() if side == INSTRUCTION else None

    def _oasst(self, path, records) -> None:
        """OpenAssistant rows: one message per line, linked into trees by parent_id."""
        by_id = {}
        for n, record in records:
            try:
                for key in ("message_id", "text", "role"):
                    self._string(path, n, record, key)
            except BadRecord:
                continue
            by_id[record["message_id"]] = (n, record)
        broken = set()
        for message_id, (n, record) in by_id.items():
            parent = record.get("parent_id")
            if parent is not None and parent not in by_id:
                self.bad(path, n, f"parent_id {parent} of message {message_id} is not in the file (broken tree)", "broken_parent_links")
                broken.add(message_id)

        def reachable(message_id):
            seen = set()
            while message_id is not None:
                if message_id in broken or message_id in seen:
                    return False
                seen.add(message_id)
                message_id = by_id[message_id][1].get("parent_id")
            return True

        for message_id, (n, record) in by_id.items():
            if record.get("deleted"):
                self.corpus.stats["deleted_messages"] += 1
                continue
            if not reachable(message_id):
                self.corpus.stats["messages_under_broken_links"] += 1
                continue
            side = self._turn(path, n, record["role"], record["text"], 0)
            parent = by_id.get(record.get("parent_id"))
            if side == RESPONSE and parent and str(parent[1]["role"]).lower() in USER_ROLES:
                self.corpus.items[-1].gold = (parent[1]["text"].strip(), record["text"].strip())
