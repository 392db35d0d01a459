"""The corpus being read: its texts (Items) and counts, and what a bad record does (an error, or a counted skip)."""

import random
from collections import Counter
from dataclasses import dataclass, field

from .errors import UserError
from .text import printable

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


def kind(value) -> str:
    """A JSON value's type, as messages name it."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


class Reading:
    """One read of segment.input: its params, the corpus so far, and one seeded choice of sides for all files."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.fields = cfg.fields.model_dump()
        self.skip_bad = cfg.on_bad_record == "skip"
        self.rng = random.Random(cfg.seed)
        self.corpus = Corpus()

    def bad(self, name: str, line: int, message: str, count_as: str) -> None:
        """Line `line` of `name` is bad: one error line, or with segment.on_bad_record: skip a count (skipped_<count_as>)."""
        if not self.skip_bad:
            raise UserError(printable(f"{name}:{line}: {message}; {SKIP_HINT}"))
        self.corpus.stats[f"skipped_{count_as}"] += 1

    def string(self, name: str, n: int, record: dict, key: str, required: bool = True) -> str | None:
        """The string under `key`; a missing (if required) or non-string one is bad (BadRecord once reported)."""
        value = record.get(key)
        if value is None:
            if required:
                self.bad(name, n, f"record has no field '{key}' (set segment.fields to your field names)", "missing_field")
                raise BadRecord
            return None
        if not isinstance(value, str):
            self.bad(name, n, f"field '{key}' is {kind(value)}, expected a string", "wrong_type")
            raise BadRecord
        return value
