"""The two generators at work: each writes the side of a pair that it does not read.

M_QA (forward) answers questions; M_AQ (backward) writes the question behind a response.
One function serves the loop's relabelling and the filter's reconstruction:
- relabel (`reads="original"`): a record's real side is read and its missing side written;
- reconstruct (`reads="generated"`): the generated side is read and the real side written
  again, into `reconstruction` (q~ = M_AQ(a^), a~ = M_QA(q^)).
"""

import re
from dataclasses import replace

from .generate import generate, open_partial, summarize
from .overlap import rouge_l
from .prompts import backward_messages, forward_messages
from .records import INSTRUCTION, RESPONSE
from .text import normalize


def complete(
    engine,
    records,
    cfg,
    prompts,
    reads: str = "original",
    iteration: int = 0,
    keep_rejected: bool = False,
    adapter=None,
    resume_as=None,
    contexts=None,
):
    """(records, metrics): each record with the side it lacks (or its reconstruction) filled in,
    by `engine` with `adapter` (None: the base model), with the forward or backward template
    of `prompts` (prompts.Prompts).

    A rejected relabelling drops its record unless `keep_rejected` (the evaluation scores
    every output a model writes). Reconstruction keeps every pair: one whose reconstruction
    was rejected gets `reconstruction` None, so no distance. A pair whose generated side
    copies its original (ROUGE-L F1 >= generate.max_copy_overlap) is not reconstructed at all:
    it would reconstruct perfectly and win the filter, so it gets no distance either (counted
    as `copied_pairs`; relabelling rejects such copies, this holds for any input). `contexts` maps a
    question's record id to the corpus paragraphs retrieved for it (relabel.context: retrieved): that
    question is asked with the grounded template. With `resume_as`
    (the output's path) finished batches go to a partial file, and a rerun after a crash
    generates only the rest.
    """
    if reads not in ("original", "generated"):
        raise ValueError(f"reads must be 'original' or 'generated', not {reads!r}")
    copied = set()
    if reads == "generated":
        copied = {i for i, r in enumerate(records) if is_copy(r.generated_text, r.original_text, cfg.max_copy_overlap)}
        records, kept = [r for i, r in enumerate(records) if i not in copied], records
    texts = [r.original_text if reads == "original" else r.generated_text for r in records]
    reads_question = [(r.original == INSTRUCTION) == (reads == "original") for r in records]
    contexts = contexts or {}
    conversations = [
        forward_messages(prompts, t, contexts.get(r.id)) if q else backward_messages(prompts, t)
        for r, t, q in zip(records, texts, reads_question)
    ]
    desc = f"relabel (iteration {iteration})" if reads == "original" else "reconstruct"
    partial = open_partial(resume_as, engine, conversations, cfg, adapter) if resume_as else None
    generations = generate(engine, conversations, cfg, sources=texts, adapter=adapter, partial=partial, desc=desc)
    if contexts:  # the dataset's pair has no paragraphs: an answer that cites them is of no use without them
        generations = [
            replace(g, reject="cites_context") if g.reject is None and r.id in contexts and cites_context(g.text) else g
            for r, g in zip(records, generations)
        ]
    out = []
    for record, g in zip(records, generations):
        if g.reject is not None and not keep_rejected and reads == "original":
            continue
        if reads == "generated":  # a rejected reconstruction is none: it must not earn its pair a distance
            out.append(replace(record, reconstruction=g.text if g.reject is None else None))
        else:
            missing = RESPONSE if record.original == INSTRUCTION else INSTRUCTION
            out.append(replace(record, iteration=iteration, **{missing: g.text}))
    metrics = {
        "in": len(records),
        "out": len(out),
        **summarize(generations),
        "engine": engine.name,
        "engine_reason": engine.reason,
    }
    if reads == "generated":  # back in input order, the copied pairs with no reconstruction
        done = iter(out)
        out = [replace(r, reconstruction=None) if i in copied else next(done) for i, r in enumerate(kept)]
        metrics.update({"in": len(kept), "out": len(out), "copied_pairs": len(copied)})
    return out, metrics


_CITES_CONTEXT = re.compile(
    r"\bpassages?\b|\b(?:above|provided|given|these) (?:text|texts|documentation|docs|context|excerpts?|paragraphs?|information)\b"
    r"|\b(?:text|documentation|context|paragraphs?|excerpts?) (?:above|provided)\b|\[\d\]",
    re.IGNORECASE,
)


def cites_context(text: str) -> bool:
    """A grounded answer that talks about its paragraphs ("the passages say", "[2]") instead of answering."""
    return bool(_CITES_CONTEXT.search(text))


def is_copy(generated: str, original: str, max_copy: float) -> bool:
    """The generated side nearly repeats the original: not an instruction pair."""
    return normalize(generated) == normalize(original) or rouge_l(generated, original) >= max_copy
