"""Step 1 of the method: raw text -> an unpaired question set and answer set.

Documents are read into paragraphs (text.py says what a paragraph is; readers/ read markup);
a paragraph is a question by segment.question_rule (questions.py), every other paragraph is
an answer. Before the loop, personal data is scrubbed, over-long paragraphs are split (or
cut), and exact and near-exact duplicates (equal up to case, spacing and punctuation) are
removed.
"""

import random
from collections import Counter

from .errors import UserError
from .privacy import scrub
from .records import INSTRUCTION, RESPONSE, Record
from .text import normalize, outline_number, split_long


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
        raise UserError(
            f"params.yaml: segment.test_size {size:g} holds out all {len(paired)} gold pairs; lower it so some remain for training"
        )
    chosen = set(random.Random(seed).sample(paired, n))
    held_texts = {normalize(t, underscore_is_punctuation=True) for i in chosen for t in items[i].gold}
    test = [
        Record(
            id=f"t{j:06d}",
            original=items[i].side,
            instruction=items[i].gold[0],
            response=items[i].gold[1],
            source=items[i].source,
        )
        for j, i in enumerate(sorted(chosen))
    ]
    rest = [
        item
        for i, item in enumerate(items)
        if i not in chosen and normalize(item.text, underscore_is_punctuation=True) not in held_texts
    ]
    return rest, test


def build_records(items, cfg, stats: Counter) -> tuple[list[Record], list[Record], list[Record]]:
    """Bound the length of, deduplicate and number the items: (questions, answers, gold)."""
    max_chars, mode, min_chars, seen = cfg.max_chars, cfg.long_paragraphs, cfg.min_chars, set()
    records = {INSTRUCTION: [], RESPONSE: []}
    gold = []
    for item in items:
        text, source = item.text, item.source
        if item.side == INSTRUCTION and not item.gold:  # '9.3. Do I ...?': the number goes to the source, not to M_AQ
            number, text = outline_number(text)
            if number:
                source = {**source, "number": number}
                stats["outline_numbers_removed"] += 1
        pieces = [text]
        if len(text) > max_chars:
            stats["long_paragraphs"] += 1
            if mode == "split":
                pieces = split_long(text, max_chars)
                stats["long_paragraphs_split_into"] += len(pieces)
            else:
                pieces = [text[:max_chars]]
                stats["long_paragraphs_truncated"] += 1
        for piece in pieces:
            if len(piece) < min_chars:
                stats["too_short"] += 1
                continue
            key = (item.side, normalize(piece, underscore_is_punctuation=True))
            if key in seen:
                stats["duplicates_removed"] += 1
                continue
            seen.add(key)
            side_records = records[item.side]
            record_id = f"{'q' if item.side == INSTRUCTION else 'a'}{len(side_records):06d}"
            side_records.append(Record(id=record_id, original=item.side, source=source, **{item.side: piece}))
            if item.gold and piece is pieces[0]:
                gold.append(
                    Record(id=record_id, original=item.side, instruction=item.gold[0], response=item.gold[1], source=item.source)
                )
    stats["questions"], stats["answers"], stats["gold_pairs"] = len(records[INSTRUCTION]), len(records[RESPONSE]), len(gold)
    return records[INSTRUCTION], records[RESPONSE], gold


def check_both_sides(questions: list, answers: list, spec: str, stats: Counter | None = None) -> None:
    """The loop needs both sets: say which one is missing and what to do."""
    if not questions and not answers:
        raise UserError(f"{spec}: the corpus holds no text; add documents with paragraphs separated by blank lines")
    if not questions:
        ruled_out = sum(
            v for k, v in (stats or {}).items() if k.startswith("question_rule_rejected_") and not k.endswith("no_question_mark")
        )
        why = (
            (
                f" that ends a sentence of prose ({ruled_out} with one in code, a URL, a comment or a quotation; "
                "segment.question_rule: contains counts them)"
            )
            if ruled_out
            else ""
        )
        raise UserError(
            f"{spec}: no paragraph contains a question mark{why}, so there are no questions; "
            "Cycle-Instruct needs some question paragraphs (FAQs, forum posts, dialogue) beside the answers"
        )
    if not answers:
        raise UserError(
            f"{spec}: every paragraph contains a question mark, so there are no answers; add answer text to the corpus"
        )
