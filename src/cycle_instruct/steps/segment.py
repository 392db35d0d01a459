"""Segment: raw text in any supported format -> unpaired questions and answers (+ gold pairs).

Documents are read by the reader of their format (plain text: paragraphs at blank lines;
reStructuredText, Markdown, HTML: paragraphs, code and headings, markup removed); a
paragraph is a question by segment.question_rule, counted by reason when it is not
(question_rule_rejected_<reason>);
instruction collections give one side of each pair; dialogue logs give user turns as
questions and assistant turns as answers. Private data is scrubbed here, before any
model sees the text.
"""

from ..records import timed, write_json, write_records
from ..segment import build_records, check_both_sides, hold_out, scrub_items
from ..sources import load_corpus
from . import METRICS, TIMING, output, stage_command


def run(params, questions, answers, gold, test, metrics, timing=None):
    cfg = params.segment
    with timed(timing):
        corpus = load_corpus(cfg)
        scrub_items(corpus.items, cfg, corpus.stats)
        items, held_out = hold_out(corpus.items, cfg.test_size, cfg.seed)
        corpus.stats["test_pairs"] = len(held_out)
        q_records, a_records, gold_records = build_records(items, cfg, corpus.stats)
        check_both_sides(q_records, a_records, cfg.input, corpus.stats)
        write_records(questions, q_records)
        write_records(answers, a_records)
        write_records(gold, gold_records)
        write_records(test, held_out)
        write_json(metrics, dict(sorted(corpus.stats.items())))


command = stage_command(
    run,
    "segment",
    "Split raw documents into question and answer paragraphs.",
    output("--questions", required=True, help="output JSONL of question records"),
    output("--answers", required=True, help="output JSONL of answer records"),
    output("--gold", required=True, help="output JSONL of full pairs, where the input has them (never trained on)"),
    output("--test", required=True, help="output JSONL of held-out pairs (segment.test_size) for evaluation"),
    METRICS,
    TIMING,
)
