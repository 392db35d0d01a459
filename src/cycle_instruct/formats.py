"""Record formats: one small function per format (FORMATS) turns a file's records into unpaired question and answer texts.

- text: records with a text field, each a document (read as segment.markup says); a paragraph is
  a question when segment.question_rule says so (questions.py), a heading is structure unless it
  is a question. Documents in files come through `document` too, read by their suffix's reader.
- instructions: Alpaca/Dolly/flashcards-style records; as in the paper each gold pair gives only
  one side to the loop, chosen at random with a fixed seed; the full pair goes to the gold file,
  never into the training path.
- chat, oasst: dialogue logs (dialogue.py).
"""

from . import dialogue, readers
from .corpus import BadRecord, Item, Reading
from .errors import UserError
from .records import INSTRUCTION, RESPONSE
from .text import blank, printable


def detect(record: dict, fields: dict) -> str | None:
    """The format (a FORMATS key) that a record's fields say, or None."""
    keys = set(record)
    if {"message_id", "parent_id"} <= keys or "messages" in keys or "conversations" in keys:
        return dialogue.kind_of(record)
    if {fields["instruction"], fields["response"]} <= keys:
        return "instructions"
    if fields["text"] in keys:
        return "text"
    return None


def format_of(setting: str, name: str, first: dict, fields: dict) -> str:
    """The FORMATS key of a file: segment.format, resolved (auto, dialogue) by its first record."""
    if setting == "dialogue":
        return dialogue.kind_of(first)
    if setting != "auto":
        return setting
    found = detect(first, fields)
    if found is None:
        raise UserError(
            printable(
                f"{name}:1: cannot tell the format from the fields {sorted(first)}; "
                "set segment.format (text, instructions, dialogue) and segment.fields"
            )
        )
    return found


def document(reading: Reading, text: str, source: dict, markup: str) -> None:
    """A document's segments, read by the reader of `markup` (readers/)."""
    for index, block, question in readers.segments(markup, text, source["doc"], reading.cfg, reading.corpus.stats):
        where = {"paragraph": index, "section": list(block.section)} if block.section else {"paragraph": index}
        reading.corpus.items.append(Item(INSTRUCTION if question else RESPONSE, block.text, {**source, **where}))


def text(reading: Reading, name: str, records) -> None:
    for n, record in records:
        try:
            body = reading.string(name, n, record, reading.fields["text"])
        except BadRecord:
            continue
        document(reading, body, {"doc": f"{name}:{n}"}, readers.MARKUPS[reading.cfg.markup])


def instructions(reading: Reading, name: str, records) -> None:
    f, stats = reading.fields, reading.corpus.stats
    for n, record in records:
        try:
            instruction = reading.string(name, n, record, f["instruction"])
            response = reading.string(name, n, record, f["response"])
            context = reading.string(name, n, record, f["context"], required=False) if f.get("context") else None
        except BadRecord:
            continue
        if context and context.strip():
            instruction = f"{instruction.strip()}\n\n{context.strip()}"
        if blank(instruction) or blank(response):
            stats["empty_pairs"] += 1
            continue
        pair = (instruction.strip(), response.strip())
        side = INSTRUCTION if reading.rng.random() < reading.cfg.question_share else RESPONSE
        reading.corpus.items.append(
            Item(side, pair[0] if side == INSTRUCTION else pair[1], {"doc": f"{name}:{n}", "paragraph": 0}, gold=pair)
        )
        stats["gold_pairs"] += 1


FORMATS = {"text": text, "instructions": instructions, "chat": dialogue.chat, "oasst": dialogue.oasst}
