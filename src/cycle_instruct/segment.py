"""Step 1 of the method: raw text -> an unpaired question set and answer set.

A paragraph is a block of text between blank lines (lines of only whitespace, of any
script, or zero-width characters); markup documents are read into paragraphs by readers/.
`is_question` is the paper's rule: at least one question mark (Latin '?', full-width '？'
as in Chinese and Japanese, Arabic '؟'); segment.question_rule picks the rule the segment
stage applies (questions.py); every other paragraph is an answer. The Greek question mark ';' is not counted: it is the
semicolon's code point, far more common as a semicolon in other scripts.
NUL characters and lone surrogates are dropped when reading, so every text can be written
as UTF-8. Before the loop, personal data is scrubbed, over-long paragraphs are split (or
cut), and exact and near-exact duplicates (equal up to case, spacing and punctuation) are
removed.
"""

import codecs
import os
import random
import re
import shlex
from collections import Counter
from pathlib import Path

from .errors import UserError
from .privacy import scrub
from .records import INSTRUCTION, RESPONSE, Record

QUESTION_MARKS = ("?", "？", "؟")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters: a line of only these is blank
_BLANK_LINE = re.compile(rf"\n(?:[^\S\n]|[{INVISIBLE}])*\n")  # any Unicode whitespace (NBSP, U+3000, ...)
_VISIBLE = re.compile(rf"[^\s{INVISIBLE}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s+")
_BOMS = [  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
]


class BinaryFile(UserError):
    pass


def is_question(paragraph: str) -> bool:
    return any(mark in paragraph for mark in QUESTION_MARKS)


def blank(text: str) -> bool:
    """Nothing visible: only whitespace and zero-width characters."""
    return not _VISIBLE.search(text)


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped, so a message stays one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show(path) -> str:
    """A path as printable text: a file name may hold any byte, not only UTF-8 (escaped as \\xff)."""
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def clean(text: str, stats: Counter) -> str:
    """Drop NUL characters and lone surrogates (from JSON escapes such as "\\ud800"): they are
    not text, and a lone surrogate cannot even be written out as UTF-8."""
    if "\x00" in text:
        stats["nul_chars_removed"] += text.count("\x00")
        text = text.replace("\x00", "")
    if _SURROGATE.search(text):
        text, n = _SURROGATE.subn("", text)
        stats["lone_surrogates_removed"] += n
    return text


def split_paragraphs(text: str, stats: Counter | None = None) -> list[str]:
    """Blocks between blank lines; blocks of only zero-width characters are dropped (and counted)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]
    kept = [p for p in blocks if not blank(p)]
    if stats is not None and len(kept) < len(blocks):
        stats["dropped_empty_paragraphs"] += len(blocks) - len(kept)
    return kept


def read_document(path: Path) -> str:
    """The file's text: UTF-8 (a BOM is dropped), or UTF-16/UTF-32 with a BOM; binary files refused."""
    name = show(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{name}: cannot read it ({e.strerror}); check that it exists and is readable, or remove it")
    bom, encoding, label = next((b for b in _BOMS if data.startswith(b[0])), (b"", "utf-8", "UTF-8"))
    if not bom and b"\x00" in data[:8192]:
        raise BinaryFile(f"{name}: looks like a binary file, not text; remove it or point segment.input at text files")
    try:
        return data[len(bom):].decode(encoding)
    except UnicodeDecodeError as e:
        line = data[len(bom): len(bom) + e.start].decode(encoding, "replace").count("\n") + 1
        q = shlex.quote(name)  # iconv needs -f, the encoding it was saved in: Windows' Western one is the likeliest when not UTF-8
        source = "from Windows-1252: iconv -f cp1252" if label == "UTF-8" else f"iconv -f {label}"
        raise UserError(f"{name}:{line}: not valid {label} (byte {len(bom) + e.start}); convert the file to UTF-8, "
                        f"e.g. {source} -t utf-8 {q} > {q}.utf8 && mv {q}.utf8 {q}")


def split_long(text: str, max_chars: int) -> list[str]:
    """Chunks of at most max_chars, cut at sentence ends where there are any."""
    chunks, current = [], ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > max_chars:  # no sentence end in sight: hard cut
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if current and len(current) + 1 + len(sentence) > max_chars:
            chunks.append(current)
            current = ""
        current = f"{current} {sentence}" if current else sentence
    if current:
        chunks.append(current)
    return chunks


def dedup_key(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def scrub_items(items, cfg, stats: Counter) -> None:
    """Replace private data in every text (gold pairs too) before any model sees it."""
    if not cfg.scrub_private:
        return
    found = Counter()
    for item in items:
        item.text = scrub(item.text, found)
        if item.gold:
            item.gold = tuple(scrub(t, Counter()) for t in item.gold)
    stats.update({f"scrubbed_{k}": v for k, v in found.items()})


def hold_out(items, size: float, seed: int) -> tuple[list, list[Record]]:
    """Set aside `size` gold pairs (a count, or a share if below 1) that no method may see.

    Every text equal to either side of a held-out pair leaves the loop's input as well, so
    that neither the loop nor a baseline trains or generates on the test split.
    """
    paired = [i for i, item in enumerate(items) if item.gold]
    n = round(size * len(paired)) if 0 < size < 1 else int(size)
    if n <= 0:
        return items, []
    if n >= len(paired):
        raise UserError(f"params.yaml: segment.test_size {size:g} holds out all {len(paired)} gold pairs; lower it so some remain for training")
    chosen = set(random.Random(seed).sample(paired, n))
    held_texts = {dedup_key(t) for i in chosen for t in items[i].gold}
    test = [
        Record(id=f"t{j:06d}", original=items[i].side, instruction=items[i].gold[0], response=items[i].gold[1], source=items[i].source)
        for j, i in enumerate(sorted(chosen))
    ]
    rest = [item for i, item in enumerate(items) if i not in chosen and dedup_key(item.text) not in held_texts]
    return rest, test


def build_records(items, cfg, stats: Counter) -> tuple[list[Record], list[Record], list[Record]]:
    """Bound the length of, deduplicate and number the items: (questions, answers, gold)."""
    max_chars, mode, min_chars, seen = cfg.max_chars, cfg.long_paragraphs, cfg.min_chars, set()
    records = {INSTRUCTION: [], RESPONSE: []}
    gold = []
    for item in items:
        pieces = [item.text]
        if len(item.text) > max_chars:
            stats["long_paragraphs"] += 1
            if mode == "split":
                pieces = split_long(item.text, max_chars)
                stats["long_paragraphs_split_into"] += len(pieces)
            else:
                pieces = [item.text[:max_chars]]
                stats["long_paragraphs_truncated"] += 1
        for piece in pieces:
            if len(piece) < min_chars:
                stats["too_short"] += 1
                continue
            key = (item.side, dedup_key(piece))
            if key in seen:
                stats["duplicates_removed"] += 1
                continue
            seen.add(key)
            side_records = records[item.side]
            record_id = f"{'q' if item.side == INSTRUCTION else 'a'}{len(side_records):06d}"
            side_records.append(Record(id=record_id, original=item.side, source=item.source, **{item.side: piece}))
            if item.gold and piece is pieces[0]:
                gold.append(Record(id=record_id, original=item.side, instruction=item.gold[0], response=item.gold[1], source=item.source))
    stats["questions"], stats["answers"], stats["gold_pairs"] = len(records[INSTRUCTION]), len(records[RESPONSE]), len(gold)
    return records[INSTRUCTION], records[RESPONSE], gold


def check_both_sides(questions: list, answers: list, spec: str, stats: Counter | None = None) -> None:
    """The loop needs both sets: say which one is missing and what to do."""
    if not questions and not answers:
        raise UserError(f"{spec}: the corpus holds no text; add documents with paragraphs separated by blank lines")
    if not questions:
        ruled_out = sum(v for k, v in (stats or {}).items() if k.startswith("question_rule_rejected_") and not k.endswith("no_question_mark"))
        why = (f" that ends a sentence of prose ({ruled_out} with one in code, a URL, a comment or a quotation; "
               "segment.question_rule: contains counts them)") if ruled_out else ""
        raise UserError(
            f"{spec}: no paragraph contains a question mark{why}, so there are no questions; "
            "Cycle-Instruct needs some question paragraphs (FAQs, forum posts, dialogue) beside the answers"
        )
    if not answers:
        raise UserError(f"{spec}: every paragraph contains a question mark, so there are no answers; add answer text to the corpus")
