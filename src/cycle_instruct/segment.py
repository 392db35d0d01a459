"""Step 1 of the method: documents -> paragraphs -> an unpaired question set and answer set.

A paragraph is a block of text between blank lines. It is a question if it holds at
least one question mark (Latin '?', full-width '？' as in Chinese and Japanese, Arabic
'؟'); every other paragraph is an answer. The Greek question mark ';' is not counted:
it is the same code point as the semicolon, which is far more common in other scripts.
"""

import glob
import re
from pathlib import Path

from .errors import UserError
from .records import INSTRUCTION, RESPONSE, Record

QUESTION_MARKS = ("?", "？", "؟")
TEXT_SUFFIXES = (".txt", ".md")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def is_question(paragraph: str) -> bool:
    return any(mark in paragraph for mark in QUESTION_MARKS)


def split_paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]


def find_documents(spec: str) -> list[Path]:
    """A file, a folder (its .txt/.md files, recursively) or a glob pattern."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise UserError(f"{spec}: folder holds no .txt or .md files; put your documents there or set segment.input")
        return files
    matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if matches:
        return matches
    raise UserError(f"{spec}: no such file, folder or glob match; set segment.input in params.yaml to your corpus")


def read_document(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise UserError(f"{path}: looks like a binary file, not text; remove it from the corpus folder")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not valid UTF-8 (byte {e.start}); convert the file to UTF-8 (e.g. iconv -t utf-8)")


def segment_documents(paths: list[Path], min_chars: int = 1) -> tuple[list[Record], list[Record], dict]:
    """Split documents into question records and answer records, each keeping its source."""
    questions, answers = [], []
    stats = {"documents": len(paths), "empty_documents": 0, "paragraphs": 0, "too_short": 0}
    for path in paths:
        paragraphs = split_paragraphs(read_document(path))
        if not paragraphs:
            stats["empty_documents"] += 1
        for index, paragraph in enumerate(paragraphs):
            stats["paragraphs"] += 1
            if len(paragraph) < min_chars:
                stats["too_short"] += 1
                continue
            source = {"doc": str(path), "paragraph": index}
            if is_question(paragraph):
                questions.append(Record(id=f"q{len(questions):06d}", original=INSTRUCTION, instruction=paragraph, source=source))
            else:
                answers.append(Record(id=f"a{len(answers):06d}", original=RESPONSE, response=paragraph, source=source))
    stats["questions"], stats["answers"] = len(questions), len(answers)
    return questions, answers, stats


def check_both_sides(questions: list, answers: list, spec: str) -> None:
    """The loop needs both sets: say which one is missing and what to do."""
    if not questions and not answers:
        raise UserError(f"{spec}: the corpus holds no text paragraphs; add documents with paragraphs separated by blank lines")
    if not questions:
        raise UserError(
            f"{spec}: no paragraph contains a question mark, so there are no questions; "
            "Cycle-Instruct needs some question paragraphs (FAQs, forum posts, dialogue) beside the answers"
        )
    if not answers:
        raise UserError(f"{spec}: every paragraph contains a question mark, so there are no answers; add answer text to the corpus")
