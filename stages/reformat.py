"""Reformat: the base model rewrites each question into one self-contained question and each
answer into a fluent response. A rewrite that fails its checks keeps the raw paragraph
(reformat.on_reject: keep_raw) or drops the item (drop); both are counted."""

import time

import click

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.records import INSTRUCTION, RESPONSE, read_records, write_json, write_records
from cycle_instruct.reformat import reformat_records


@click.command()
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--questions-in", required=True)
@click.option("--answers-in", required=True)
@click.option("--questions-out", required=True)
@click.option("--answers-out", required=True)
@click.option("--metrics", required=True)
@exit_on_user_error
def main(base, questions_in, answers_in, questions_out, answers_out, metrics):
    start = time.perf_counter()
    params = load_params()
    cfg = {**section(params, "generate"), **section(params, "reformat")}
    tokenizer, model = load_tokenizer(base), load_model(base)
    report = {}
    for side, src, dst in ((INSTRUCTION, questions_in, questions_out), (RESPONSE, answers_in, answers_out)):
        records, report[side + "s"] = reformat_records(model, tokenizer, read_records(src), side, cfg)
        write_records(dst, records)
    report["tokens_generated"] = sum(r["tokens_generated"] for r in report.values())
    write_json(metrics, {**report, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
