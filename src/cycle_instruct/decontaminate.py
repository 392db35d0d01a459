"""Decontamination: a training pair that shares a run of n words with an evaluation item would
let a benchmark score measure memory. As lm-evaluation-harness's janitor and GPT-3's check do,
texts are lowercased and cut into words (punctuation dropped), and a pair is contaminated when
one of its n-grams is one of an item's. An item shorter than n words cannot match and is
counted (`too_short` in the metrics): lower `decontaminate.ngram` for a benchmark of short items.
"""

from pathlib import Path

from . import overlap
from .errors import UserError
from .records import Record, read_jsonl


def words(text: str | None) -> list[str]:
    return overlap.words(text or "")


def grams(tokens: list[str], n: int) -> set[str]:
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def read_items(path, fields: list[str]) -> list[list[str]]:
    """The texts of each item of a JSONL or Parquet file (its `fields`); one line naming the file on bad input."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such benchmark file (decontaminate.against); give a JSONL or Parquet file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as e:  # pyarrow raises several kinds on a file that is not Parquet
            raise UserError(f"{path}: not a Parquet file ({str(e).splitlines()[0][:120]})") from None
    else:
        rows = read_jsonl(path, "not JSONL (a benchmark file is JSONL or .parquet)")
    texts = []
    for i, row in enumerate(rows, 1):
        missing = next((f for f in fields if not isinstance(row, dict) or f not in row), None)
        if missing is not None:
            have = ", ".join(sorted(row)[:10]) if isinstance(row, dict) else type(row).__name__
            raise UserError(
                f"{path}: item {i} has no field '{missing}' (it has: {have}); set decontaminate.against's fields to its fields"
            )
        texts.append([str(row[f]) for f in fields if row[f] is not None])
    return texts


class Index:
    """The n-grams of every benchmark's items, each naming its benchmark (the first that has it)."""

    def __init__(self, n: int):
        self.n, self.grams = n, {}

    def add(self, benchmark: str, items: list[list[str]]) -> int:
        """Index the items (each a few texts: question, answer, choices); returns how many have no text of n words,
        which cannot match."""
        short = 0
        for texts in items:
            found = [g for text in texts for g in grams(words(text), self.n)]
            short += not found
            for g in found:
                self.grams.setdefault(g, benchmark)
        return short

    def match(self, record: Record) -> tuple[str, str] | None:
        """(benchmark, shared words) of the first n-gram the pair shares with an item, or None. The pair's texts: both
        sides and the paragraph before reformat rewrote it."""
        for text in (record.instruction, record.response, record.raw):
            tokens = words(text)
            for g in grams(tokens, self.n):
                if g in self.grams:
                    return self.grams[g], g
        return None
