"""Relabel: generate the missing side of every record with the given model.

Questions get pseudo-answers from M_QA of iteration k-1 (the base model when k = 1);
answers get pseudo-questions from M_AQ of iteration k. A pseudo-question that fits any answer
about as well as its own ("Can you explain this?") is rejected as `generic` and its pair
dropped, like every other rejected generation.
"""

from dataclasses import replace

from ..cycle import complete
from ..embedding import load_embedder
from ..engines import open_engine
from ..errors import UserError
from ..fidelity import specificity
from ..models import has_adapter
from ..prompts import load_prompts
from ..records import RESPONSE, read_jsonl, read_records, timed, write_json, write_records
from ..resume import clear
from ..retrieval import context_text
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, iteration, base, adapter, records_in, out, prompt_files, metrics, contexts_file=None, timing=None):
    with timed(timing):
        prompts = load_prompts(prompt_files)
        records = read_records(records_in)
        retrieved = read_contexts(contexts_file, records) if contexts_file and params.relabel.context == "retrieved" else {}
        engine = open_engine(base, params.generate, params.train.lora_r if has_adapter(adapter) else None, len(records))
        relabelled, stats = complete(
            engine,
            records,
            params.generate,
            prompts,
            reads="original",
            iteration=iteration,
            adapter=adapter,
            resume_as=out,
            contexts={id_: context_text([p["text"] for p in paragraphs]) for id_, paragraphs in retrieved.items()},
        )
        engine.close()
        if retrieved:  # which paragraphs each pseudo-answer was written from, for show and the card
            relabelled = [replace(r, retrieved=[p["id"] for p in retrieved[r.id]]) for r in relabelled]
            stats["grounded"] = len(records)  # every question asked with its paragraphs (read_contexts checks)
        if any(r.original == RESPONSE for r in relabelled):  # pseudo-questions: drop the generic ones
            embedder = load_embedder(params.model.embedder, params.model.allow_hub)
            relabelled, stats = drop_generic(relabelled, stats, embedder, params.generate.min_specificity)
        if not relabelled:
            raise UserError(
                f"{out}: every generation was rejected ({stats['rejected_by_reason']}); try more generate.max_new_tokens, a lower generate.min_specificity (for generic) or another base model"
            )
        write_records(out, relabelled)
        write_json(metrics, stats)
        clear(out)


def read_contexts(path, records) -> dict[str, list[dict]]:
    """The retrieve stage's paragraphs per question id; every question must have them."""
    rows = {row["id"]: row["paragraphs"] for row in read_jsonl(path)}
    missing = [r.id for r in records if r.id not in rows]
    if missing:
        raise UserError(
            f"{path}: no retrieved paragraphs for {len(missing)} questions (first: {missing[0]}); it is stale: dvc repro retrieve"
        )
    return rows


def drop_generic(records, stats, embedder, min_specificity):
    """Drop the pseudo-questions whose specificity (fidelity.specificity) is below `min_specificity`,
    counted as rejected for `generic`. Pseudo-answers, and runs too small to tell, pass as they are."""
    asked = [i for i, r in enumerate(records) if r.original == RESPONSE]
    scores = specificity(embedder, [records[i].instruction for i in asked], [records[i].response for i in asked])
    if scores is None:
        return records, {**stats, "specificity_tested": 0}
    generic = {i for i, score in zip(asked, scores) if score < min_specificity}
    by_reason = {**stats["rejected_by_reason"], "generic": len(generic)}
    return [r for i, r in enumerate(records) if i not in generic], {
        **stats,
        "out": stats["out"] - len(generic),
        "rejected": stats["rejected"] + len(generic),
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "specificity_tested": len(asked),
    }


command = stage_command(
    run,
    "relabel",
    "Generate the missing side of records (pseudo-answers or pseudo-questions).",
    option("--iteration", required=True, type=int),
    option("--base", required=True, help="prepared base model folder"),
    option("--adapter", required=True, help="LoRA adapter folder (iteration 0: none)"),
    option("--records", "records_in", required=True, help="records with one side filled"),
    option(
        "--contexts", "contexts_file", help="the retrieve stage's paragraphs per question (used with relabel.context: retrieved)"
    ),
    output("--out", required=True),
    PROMPTS,
    METRICS,
    TIMING,
)
