"""Segment: raw documents -> paragraphs -> questions (contain '?') and answers (the rest)."""

import time

import click

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.params import load_params, section
from cycle_instruct.records import write_json, write_records
from cycle_instruct.segment import check_both_sides, find_documents, segment_documents


@click.command()
@click.option("--questions", required=True, help="output JSONL of question records")
@click.option("--answers", required=True, help="output JSONL of answer records")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(questions, answers, metrics):
    start = time.perf_counter()
    cfg = section(load_params(), "segment")
    documents = find_documents(str(cfg["input"]))
    q_records, a_records, stats = segment_documents(documents, min_chars=int(cfg.get("min_chars", 1)))
    check_both_sides(q_records, a_records, str(cfg["input"]))
    write_records(questions, q_records)
    write_records(answers, a_records)
    write_json(metrics, {**stats, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
