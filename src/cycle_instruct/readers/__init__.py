"""Readers: one small module per document format, behind one table (READERS) the segment stage looks up.

Each reader turns a document's text into Blocks (readers/blocks.py): headings, paragraphs and
code, plain text with their section path. Files are read by suffix (SUFFIXES; any other text
file is plain text); the `text` field of JSONL/JSON documents by segment.markup.
"""

from collections import Counter

from ..errors import UserError
from ..questions import why_not
from . import html, markdown, plain, rst
from .blocks import Block

READERS = {"text": plain.read, "rst": rst.read, "markdown": markdown.read, "html": html.read}
NAMES = {"text": "plain text", "rst": "reStructuredText", "markdown": "Markdown", "html": "HTML"}
SUFFIXES = {".rst": "rst", ".rest": "rst", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
MARKUPS = {"none": "text", "rst": "rst", "markdown": "markdown", "html": "html"}  # segment.markup -> reader


class Unparsable(UserError):
    """A document its parser could not read."""


def markup_of(suffix: str) -> str:
    return SUFFIXES.get(suffix.lower(), "text")


def segments(markup: str, text: str, name: str, cfg, stats: Counter):
    """(index, block, is it a question) for each block of the document that is a segment: a
    question by segment.question_rule, or an answer; headings are structure (the `section` of
    the blocks under them), not answers, unless they are questions. Each answer is counted
    under the reason the rule gave (question_rule_rejected_<reason>)."""
    try:
        blocks = read(markup, text, name, stats)
    except Unparsable:
        if cfg.on_bad_record != "skip":
            raise
        stats["skipped_unparsable_documents"] += 1
        return
    for index, block in enumerate(blocks):
        reason = why_not(block.text, cfg.question_rule, block.code, block.cited)
        if block.kind == "heading" and reason:
            stats["headings"] += 1
            continue
        if reason:
            stats[f"question_rule_rejected_{reason}"] += 1
        yield index, block, reason is None


def read(markup: str, text: str, name: str, stats: Counter) -> list[Block]:
    """The document's blocks; a parser that fails is one line naming the document."""
    try:
        return READERS[markup](text, stats)
    except Exception as e:  # noqa: BLE001 - a third-party parser on hostile input: any failure is the file's
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Unparsable(
            f"{name}: cannot read it as {NAMES[markup]} ({why[:200]}); fix the document, or set segment.on_bad_record: skip to skip and count it"
        ) from None
