"""Segment: raw text in any supported format -> unpaired questions and answers (+ gold pairs).

Plain text is split into paragraphs (a paragraph with a question mark is a question);
instruction collections give one side of each pair; dialogue logs give user turns as
questions and assistant turns as answers. Private data is scrubbed here, before any
model sees the text.
"""

import time

import click

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.params import load_params, section
from cycle_instruct.records import write_json, write_records
from cycle_instruct.segment import build_records, check_both_sides, hold_out, scrub_items
from cycle_instruct.sources import load_corpus


@click.command()
@click.option("--questions", required=True, help="output JSONL of question records")
@click.option("--answers", required=True, help="output JSONL of answer records")
@click.option("--gold", required=True, help="output JSONL of full pairs, where the input has them (never trained on)")
@click.option("--test", "test_out", required=True, help="output JSONL of held-out pairs (segment.test_size) for evaluation")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(questions, answers, gold, test_out, metrics):
    start = time.perf_counter()
    cfg = section(load_params(), "segment")
    corpus = load_corpus(cfg)
    scrub_items(corpus.items, cfg, corpus.stats)
    items, test = hold_out(corpus.items, float(cfg.get("test_size", 0)), int(cfg.get("seed", 0)))
    corpus.stats["test_pairs"] = len(test)
    q_records, a_records, gold_records = build_records(items, cfg, corpus.stats)
    check_both_sides(q_records, a_records, str(cfg["input"]))
    write_records(questions, q_records)
    write_records(answers, a_records)
    write_records(gold, gold_records)
    write_records(test_out, test)
    write_json(metrics, {**dict(sorted(corpus.stats.items())), "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
