"""Reformat: the base model rewrites each question into one self-contained question and each
answer into a fluent response. A rewrite that fails its checks (among them: too far from its
source in meaning, or a question that lost its content words) keeps the raw paragraph
(reformat.on_reject: keep_raw) or drops the item (drop); both are counted. With
reformat.enabled: false every record passes through as it is, and no model is loaded."""

from ..embedding import load_embedder
from ..engines import open_engine
from ..prompts import load_prompts
from ..records import INSTRUCTION, RESPONSE, read_records, timed, write_json, write_records
from ..reformat import reformat_records
from ..resume import clear
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, base, questions_in, answers_in, questions_out, answers_out, prompt_files, metrics, timing=None):
    with timed(timing):
        prompts = load_prompts(prompt_files)
        sides = [(INSTRUCTION, read_records(questions_in), questions_out), (RESPONSE, read_records(answers_in), answers_out)]
        engine = embedder = None
        if params.reformat.enabled:
            embedder = load_embedder(params.model.embedder, params.model.allow_hub)
            sampling = params.generate.but(
                max_new_tokens=params.reformat.max_new_tokens
            )  # auto sizes the job by reformat's budget
            engine = open_engine(base, sampling, None, sum(len(records) for _, records, _ in sides))
        report = {}
        for side, records, dst in sides:
            records, report[side + "s"] = reformat_records(
                engine,
                records,
                side,
                params.reformat,
                params.generate,
                prompts,
                embedder,
                params.segment.question_rule,
                resume_as=dst,
            )
            write_records(dst, records)
        if engine is not None:
            engine.close()
        report["tokens_generated"] = sum(r["tokens_generated"] for r in report.values())
        write_json(metrics, report)
        for _, _, dst in sides:
            clear(dst)


command = stage_command(
    run,
    "reformat",
    "Rewrite questions and answers with the base model.",
    option("--base", required=True, help="prepared base model folder"),
    option("--questions-in", required=True),
    option("--answers-in", required=True),
    output("--questions-out", required=True),
    output("--answers-out", required=True),
    PROMPTS,
    METRICS,
    TIMING,
)
