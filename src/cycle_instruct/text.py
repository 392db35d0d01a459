"""Plain-text helpers shared by the readers, the segment step and the checks on generated text:
decoding a file, paragraphs and sentences, the question marks, one normal form for comparing texts.

A paragraph is a block of text between blank lines (lines of only whitespace, of any script,
or zero-width characters). The question marks are the Latin '?', the full-width '？' (Chinese,
Japanese) and the Arabic '؟'; the Greek question mark ';' is not one: it is the semicolon's
code point, far more common as a semicolon in other scripts. NUL characters and lone
surrogates are dropped when reading, so every text can be written as UTF-8.
"""

import codecs
import os
import re
import shlex
from collections import Counter
from pathlib import Path

from .errors import UserError

QUESTION_MARKS = ("?", "？", "؟")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters: a line of only these is blank
_BLANK_LINE = re.compile(rf"\n(?:[^\S\n]|[{INVISIBLE}])*\n")  # any Unicode whitespace (NBSP, U+3000, ...)
_VISIBLE = re.compile(rf"[^\s{INVISIBLE}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SENTENCE_END = re.compile(rf"(?<=[.!。！{''.join(QUESTION_MARKS)}])\s+")
_BOMS = [  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
]


_OUTLINE = re.compile(r"(?:[QA]?\d+(?:\.\d+)+\.?|[QA]\d+|\d+)(?P<sep>[.:)]?)\s+")  # 9.3. | 3.4: | Q3: | 3) | A1)
QUESTION_WORDS = frozenset(
    "how what why when where which who whom whose is are am was were can could do does did should shall will would "
    "may might must has have had".split()
)


class BinaryFile(UserError):
    pass


def outline_number(text: str) -> tuple[str, str]:
    """(number, question) of a numbered FAQ question: '9.3. Do I have to ...?' -> ('9.3', 'Do I have to ...?').

    Numbered FAQs number their questions ('3.4: How do I ...', 'Q3: Why ...', '3) What ...'); left in,
    the number is part of what the model learns to write. Only an outline form is a number: a number,
    dotted number or Q/A label closed by '.', ':' or ')' ('9.3.', '3.4:', 'Q3:', '3)'), then a capital
    letter or a question word. '2024 was ...', '3 ways to ...', 'A4 Paper' keep theirs, and so does a
    bare dotted number ('3.12 Is it fast?', '2.0 What changed?'): it is as often a version as an outline.
    ('', text) otherwise.
    """
    m = _OUTLINE.match(text)
    if not m:
        return "", text
    number, rest = text[: m.start("sep")], text[m.end() :]
    first = rest.split(maxsplit=1)[0] if rest.strip() else ""
    if not m.group("sep") and not number.endswith("."):  # '3.12 Is it fast?', '2.0 What changed?': versions, not outline
        return "", text
    if not first or not (first[0].isupper() or first.lower().strip(",") in QUESTION_WORDS):
        return "", text
    return number.rstrip("."), rest


def has_question_mark(text: str) -> bool:
    return any(mark in text for mark in QUESTION_MARKS)


def blank(text: str) -> bool:
    """Nothing visible: only whitespace and zero-width characters."""
    return not _VISIBLE.search(text)


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped, so a message stays one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show(path) -> str:
    """A path as printable text: a file name may hold any byte, not only UTF-8 (escaped as \\xff)."""
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def normalize(text: str, underscore_is_punctuation: bool = False) -> str:
    """Lower case, punctuation to spaces, single spaces: texts equal up to these are the same.

    '_' is a word character unless `underscore_is_punctuation`: the segment step's duplicates
    (raw documents, where `_this_` is emphasis) are found with it, the checks on generated text
    (copies, echoes, repetition) without it.
    """
    punctuation = r"[\W_]" if underscore_is_punctuation else r"[^\w\s]"
    return " ".join(re.sub(punctuation, " ", text.lower()).split())


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
        return data[len(bom) :].decode(encoding)
    except UnicodeDecodeError as e:
        line = data[len(bom) : len(bom) + e.start].decode(encoding, "replace").count("\n") + 1
        q = shlex.quote(
            name
        )  # iconv needs -f, the encoding it was saved in: Windows' Western one is the likeliest when not UTF-8
        source = "from Windows-1252: iconv -f cp1252" if label == "UTF-8" else f"iconv -f {label}"
        raise UserError(
            f"{name}:{line}: not valid {label} (byte {len(bom) + e.start}); convert the file to UTF-8, "
            f"e.g. {source} -t utf-8 {q} > {q}.utf8 && mv {q}.utf8 {q}"
        )


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
