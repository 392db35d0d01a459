"""Step 3 and the filter's reconstruction: each model generates the side its record lacks.

M_QA (forward) answers questions; M_AQ (backward) writes the question behind a response.
A record whose real side is the instruction is completed by M_QA; one whose real side is
the response is completed by M_AQ.
"""

from dataclasses import replace

from .generate import generate, reject_reason, summarize
from .prompts import backward_messages, forward_messages
from .records import INSTRUCTION, RESPONSE


def relabel(model, tokenizer, records, cfg: dict, iteration: int, keep_rejected: bool = False):
    """Fill in the missing side of every record; rejected generations drop the record.

    `keep_rejected` keeps them (the evaluation scores every output a model writes).
    """
    conversations = [
        forward_messages(r.instruction) if r.original == INSTRUCTION else backward_messages(r.response) for r in records
    ]
    generations = generate(model, tokenizer, conversations, cfg, desc=f"relabel (iteration {iteration})")
    out = []
    for record, conv, g in zip(records, conversations, generations):
        g.reject = reject_reason(g.text, record.original_text, conv[-1]["content"])
        if g.reject is None or keep_rejected:
            missing = RESPONSE if record.original == INSTRUCTION else INSTRUCTION
            out.append(replace(record, iteration=iteration, **{missing: g.text}))
    return out, {"in": len(records), "out": len(out), **summarize(generations)}


def training_pairs(records, direction: str) -> list[tuple[list[dict], str]]:
    """(messages, target): forward learns question -> response, backward response -> question."""
    if direction == "fwd":
        return [(forward_messages(r.instruction), r.response) for r in records]
    return [(backward_messages(r.response), r.instruction) for r in records]


def reconstruct(model, tokenizer, records, cfg: dict):
    """Regenerate each record's original side from its generated side (q~ = M_AQ(a^), a~ = M_QA(q^)).

    `records` must all share one `original` side, so one model serves them all.
    """
    conversations = [
        backward_messages(r.response) if r.original == INSTRUCTION else forward_messages(r.instruction) for r in records
    ]
    generations = generate(model, tokenizer, conversations, cfg, desc="reconstruct")
    for conv, g, r in zip(conversations, generations, records):
        g.reject = reject_reason(g.text, r.generated_text, conv[-1]["content"])
    return [replace(r, reconstruction=g.text) for r, g in zip(records, generations)], summarize(generations)
