"""Reformat: the base model rewrites each question into one self-contained question and each
answer into a fluent response. A rewrite that fails its checks keeps the raw paragraph
(reformat.on_reject: keep_raw) or drops the item (drop); both are counted."""

from ..models import load_model, load_tokenizer
from ..records import INSTRUCTION, RESPONSE, read_records, timed, write_json, write_records
from ..reformat import reformat_records
from . import METRICS, TIMING, option, stage_command


def run(params, base, questions_in, answers_in, questions_out, answers_out, metrics, timing=None):
    with timed(timing):
        tokenizer, model = load_tokenizer(base), load_model(base)
        report = {}
        for side, src, dst in ((INSTRUCTION, questions_in, questions_out), (RESPONSE, answers_in, answers_out)):
            records, report[side + "s"] = reformat_records(model, tokenizer, read_records(src), side, params.reformat, params.generate)
            write_records(dst, records)
        report["tokens_generated"] = sum(r["tokens_generated"] for r in report.values())
        write_json(metrics, report)


command = stage_command(
    run, "reformat", "Rewrite questions and answers with the base model.",
    option("--base", required=True, help="prepared base model folder"),
    option("--questions-in", required=True),
    option("--answers-in", required=True),
    option("--questions-out", required=True),
    option("--answers-out", required=True),
    METRICS,
    TIMING,
)
