"""Input adapters: every raw format the paper evaluates becomes unpaired question and answer texts.

- text: documents (.txt, .rst, .md, .html, ... read by the reader of their suffix, readers/),
  or JSONL/JSON records with a text field (read as segment.markup says); a paragraph is a
  question when segment.question_rule says so (questions.py), a heading is structure unless
  it is a question.
- instructions: Alpaca/Dolly/flashcards-style records; as in the paper each gold pair gives
  only one side to the loop, chosen at random with a fixed seed; the full pair goes to the
  gold file, never into the training path.
- dialogue: OpenAssistant message trees, flat chat JSONL (`messages` with roles) and ShareGPT
  (`conversations` with from/value). User turns are questions, assistant turns answers;
  which answer replied to which question is dropped (kept only in the gold file).
"""

import json
import os
import random
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import readers
from .errors import UserError
from .records import INSTRUCTION, RESPONSE
from .text import BinaryFile, blank, clean, printable, read_document, show

JSON_SUFFIXES = (".jsonl", ".json")
USER_ROLES = {"user", "human", "prompter"}
ASSISTANT_ROLES = {"assistant", "gpt", "bot", "model", "chatgpt"}
SKIP_HINT = "fix it, or set segment.on_bad_record: skip to skip and count such records"
SPECIAL_FILES = {stat.S_IFIFO: "named pipe", stat.S_IFSOCK: "socket", stat.S_IFCHR: "device", stat.S_IFBLK: "device"}
_GLOB = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # JSON escapes of NUL or of a surrogate


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
    reader = _Reader(cfg)
    paths = find_inputs(cfg.input, cfg.include, reader.corpus.stats, cfg.follow_symlinks)
    for path in paths:
        try:
            reader.read(path, cfg.format)
        except BinaryFile:
            if len(paths) == 1:
                raise
            print(f"warning: {show(path)}: binary file skipped", flush=True)
            reader.corpus.stats["skipped_binary_files"] += 1
    if not reader.corpus.items and len(paths) == 1 and reader.corpus.stats["empty_files"]:
        raise UserError(f"{show(paths[0])}: file is empty; point segment.input at your corpus")
    return reader.corpus


def find_inputs(spec: str, include: str | list[str], stats: Counter, follow_symlinks: bool = False) -> list[Path]:
    """A file, or the files of a folder (recursively) whose path relative to it matches segment.include
    (.jsonl/.json files hold records, any other file is plain text).

    Special files (named pipes, sockets, devices) are skipped and counted, never opened:
    reading a named pipe blocks forever. Symlinked folders are not followed (no loops); a symlinked
    file that leads out of the folder (`ln -s /etc/shadow`) is skipped and counted unless
    segment.follow_symlinks says to read it.
    """
    path = Path(spec)
    if not path.is_dir():
        return [path] if _regular(path, stats, alone=True) else []
    patterns = [include] if isinstance(include, str) else include
    wanted = re.compile("|".join(f"(?:{_glob_regex(p)})" for p in patterns), re.IGNORECASE)

    def unreadable(e: OSError):
        raise UserError(f"{show(e.filename)}: cannot read the folder ({e.strerror}); fix its permissions or remove it")

    files, outside, root = [], [], os.path.realpath(path)
    for folder, _, names in os.walk(path, onerror=unreadable):
        for name in names:
            file = Path(folder, name)
            if not wanted.fullmatch(file.relative_to(path).as_posix()):
                continue
            if not follow_symlinks and file.is_symlink() and os.path.commonpath([root, os.path.realpath(file)]) != root:
                outside.append(show(file.relative_to(path)))
            elif _regular(file, stats):
                files.append(file)
    if outside:
        one = len(outside) == 1
        print(f"warning: {show(spec)}: {len(outside)} symlink{'' if one else 's'} to {'a file' if one else 'files'} outside the folder skipped "
              f"({', '.join(sorted(outside))}); set segment.follow_symlinks: true to read {'it' if one else 'them'}", flush=True)
        stats["skipped_outside_symlinks"] += len(outside)
        stats["skipped_outside_symlink_files"] = sorted(outside)
    if not files:
        raise UserError(f"{show(spec)}: no file in the folder matches segment.include ({', '.join(patterns)}); put your corpus there or change segment.include")
    return sorted(files)


def _glob_regex(pattern: str) -> str:
    """A glob over '/'-separated paths as a regex: * ? [..] stay within a folder, **/ spans folders."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?|\[!?[^\]/]+\])", pattern.removeprefix("./"))  # odd items: wildcards
    return "".join(_GLOB.get(t, "[^" + t[2:] if t.startswith("[!") else t) if i % 2 else re.escape(t) for i, t in enumerate(parts))


def _regular(path: Path, stats: Counter, alone: bool = False) -> bool:
    """Whether `path` is a regular file to read (checked with stat, without opening it)."""
    try:
        mode = path.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        if path.is_symlink():
            raise UserError(f"{show(path)}: symlink to {show(os.readlink(path))}, which does not exist; fix or remove the link")
        raise UserError(f"{show(path)}: no such file or folder; set segment.input in params.yaml to your corpus")
    except OSError as e:
        raise UserError(f"{show(path)}: cannot access it ({e.strerror}); check the path and its permissions")
    if stat.S_ISREG(mode):
        return True
    kind = SPECIAL_FILES.get(stat.S_IFMT(mode), "special file")
    if alone:
        raise UserError(f"{show(path)}: is a {kind}, not a regular file; point segment.input at a file or a folder")
    print(f"warning: {show(path)}: {kind} skipped (not a regular file)", flush=True)
    stats["skipped_special_files"] += 1
    return False


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(value), "null")


def _why(e: Exception) -> str:
    """What json.loads did not like, in one line."""
    if isinstance(e, json.JSONDecodeError):
        return f"malformed JSON ({e.msg} at column {e.colno})"
    if isinstance(e, RecursionError):
        return "JSON nested too deeply to read"
    return f"unreadable JSON ({str(e).split(';')[0]})"  # e.g. an integer over Python's 4300-digit limit


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
        """One file; `name` (the path, made printable) is what records and messages show."""
        stats = self.corpus.stats
        stats["files"] += 1
        name = show(path)
        if name != str(path):
            print(f"warning: {name}: file name is not printable UTF-8; recorded as shown", flush=True)
            stats["escaped_file_names"] += 1
        suffix = path.suffix.lower()
        if suffix not in JSON_SUFFIXES and fmt not in ("auto", "text"):
            raise UserError(f"{name}: segment.format '{fmt}' needs .jsonl or .json files; set segment.format: text for plain text")
        text = read_document(path)
        if not text:
            stats["empty_files"] += 1
            return
        if suffix not in JSON_SUFFIXES:
            self._text_document(clean(text, stats), {"doc": name}, readers.markup_of(suffix))
            return
        records = list(self._json_records(name, text, suffix))
        if not records:
            stats["empty_files"] += 1
            return
        kind = self._detect(name, records[0][1]) if fmt == "auto" else fmt
        if kind == "dialogue":
            kind = "oasst" if "message_id" in records[0][1] else "chat"
        getattr(self, f"_{kind}")(name, records)

    def _detect(self, name: str, first: dict, strict: bool = True) -> str | None:
        keys = set(first)
        if {"message_id", "parent_id"} <= keys or "messages" in keys or "conversations" in keys:
            return "dialogue"
        if {self.fields["instruction"], self.fields["response"]} <= keys:
            return "instructions"
        if self.fields["text"] in keys:
            return "text"
        if not strict:
            return None
        raise UserError(printable(
            f"{name}:1: cannot tell the format from the fields {sorted(keys)}; "
            "set segment.format (text, instructions, dialogue) and segment.fields"
        ))

    def bad(self, name: str, line: int, message: str, count_as: str) -> None:
        if not self.skip_bad:
            raise UserError(printable(f"{name}:{line}: {message}; {SKIP_HINT}"))
        self.corpus.stats[f"skipped_{count_as}"] += 1

    # --- JSON / JSONL ---------------------------------------------------------------------
    def _json_records(self, name: str, text: str, suffix: str):
        """(line number, object) for each record; the items of a .json array count as lines.

        Strings are cleaned of NUL and lone surrogates (only JSON escapes can make them).
        """
        lines = enumerate(self._json_array(name, text), 1) if suffix == ".json" else self._jsonl(name, text)
        escapes = _ESCAPE.search(text)
        for n, value in lines:
            if not isinstance(value, dict):
                self.bad(name, n, f"expected a JSON object, got {_kind(value)}", "malformed_lines")
                continue
            try:
                value = self._clean(value) if escapes else value
            except RecursionError as e:
                self.bad(name, n, _why(e), "malformed_lines")
                continue
            yield n, value

    def _jsonl(self, name: str, text: str):
        for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 and friends are valid inside JSON strings
            if line.strip():
                try:
                    yield n, json.loads(line)
                except (ValueError, RecursionError) as e:
                    self.bad(name, n, _why(e), "malformed_lines")

    def _json_array(self, name: str, text: str) -> list:
        """The records of a .json file: an array, or the array under segment.fields.records."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{name}:{e.lineno}: not valid JSON ({e.msg}); fix the file")
        except (ValueError, RecursionError) as e:
            raise UserError(f"{name}: {_why(e)}; fix the file")
        key = self.fields["records"]
        if key:
            if isinstance(data, dict) and isinstance(data.get(key), list):
                return data[key]
            raise UserError(printable(f"{name}: expected an object with a list of records under '{key}' (segment.fields.records), got {_kind(data)}{' without it' if isinstance(data, dict) else ''}; fix the file or segment.fields.records"))
        if isinstance(data, list):
            return data
        if isinstance(data, dict):  # one record, or {"data": [...]}: records under its only list
            lists = [v for v in data.values() if isinstance(v, list)]
            return lists[0] if len(lists) == 1 and self._detect(name, data, strict=False) is None else [data]
        raise UserError(f"{name}: holds {_kind(data)}; expected an array of records, or an object with the records under a key (set segment.fields.records)")

    def _clean(self, value):
        """Every string of a record, keys too, without NUL and lone surrogates."""
        if isinstance(value, str):
            return clean(value, self.corpus.stats)
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {self._clean(k): self._clean(v) for k, v in value.items()}
        return value

    def _string(self, path, n, record, key, required=True) -> str | None:
        value = record.get(key)
        if value is None:
            if required:
                self.bad(path, n, f"record has no field '{key}' (set segment.fields to your field names)", "missing_field")
                raise BadRecord
            return None
        if not isinstance(value, str):
            self.bad(path, n, f"field '{key}' is {_kind(value)}, expected a string", "wrong_type")
            raise BadRecord
        return value

    # --- the formats ----------------------------------------------------------------------
    def _text_document(self, text: str, source: dict, markup: str) -> None:
        for index, block, question in readers.segments(markup, text, source["doc"], self.cfg, self.corpus.stats):
            where = {"paragraph": index, "section": list(block.section)} if block.section else {"paragraph": index}
            self.corpus.items.append(Item(INSTRUCTION if question else RESPONSE, block.text, {**source, **where}))

    def _text(self, path, records) -> None:
        for n, record in records:
            try:
                text = self._string(path, n, record, self.fields["text"])
            except BadRecord:
                continue
            self._text_document(text, {"doc": f"{path}:{n}"}, readers.MARKUPS[self.cfg.markup])

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
            if blank(instruction) or blank(response):
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
            self.bad(path, n, f"unknown role {role!r} (expected user/assistant, human/gpt or prompter/assistant)", "unknown_role")
            return None
        if blank(text):
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
                    self.bad(path, n, f"turn {index} is {_kind(turn)}, expected an object", "wrong_type")
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
        """OpenAssistant rows: one message per line, linked into trees by parent_id.

        A repeated message_id or a parent_id cycle is a bad record: never silently kept.
        """
        by_id = {}
        for n, record in records:
            try:
                for key in ("message_id", "text", "role"):
                    self._string(path, n, record, key)
                self._string(path, n, record, "parent_id", required=False)
            except BadRecord:
                continue
            message_id = record["message_id"]
            if message_id in by_id:  # the first one is kept
                self.bad(path, n, f"message_id {message_id} is already used on line {by_id[message_id][0]}", "duplicate_message_ids")
                continue
            by_id[message_id] = (n, record)
        rooted = {}  # message_id -> whether its chain of parents ends at a root
        for message_id, (n, record) in by_id.items():
            parent = record.get("parent_id")
            if parent is not None and parent not in by_id:
                self.bad(path, n, f"parent_id {parent} of message {message_id} is not in the file (broken tree)", "broken_parent_links")
                rooted[message_id] = False

        def reachable(message_id):
            chain = {}
            while message_id is not None and message_id not in rooted:
                if message_id in chain:
                    self.bad(path, by_id[message_id][0], f"message {message_id} is its own ancestor (a parent_id cycle)", "parent_cycles")
                    break
                chain[message_id] = True
                message_id = by_id[message_id][1].get("parent_id")
            ok = message_id is None or rooted.get(message_id, False)
            rooted.update(dict.fromkeys(chain, ok))
            return ok

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
