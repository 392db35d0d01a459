"""Evaluation: the comparison table (like the paper's) and the data behind its plots."""

from pathlib import Path

import click
import numpy as np

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.evaluation import histogram
from cycle_instruct.params import iteration_chain, load_params, section
from cycle_instruct.records import atomic_path, read_json, read_records, write_json

COLUMNS = [("train pairs", "train_pairs"), ("answer cos", "answer.cosine"), ("answer ROUGE-L", "answer.rouge_l"),
           ("question cos", "question.cosine"), ("question ROUGE-L", "question.rouge_l")]


def lookup(row: dict, dotted: str):
    for key in dotted.split("."):
        row = row.get(key) if isinstance(row, dict) else None
    return row


def fmt(value, error=None) -> str:
    text = "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
    return text if error is None else f"{text} ± {error:.3f}"


@click.command()
@click.option("--downstream", required=True, help="folder of <method>.json downstream metrics")
@click.option("--quality", required=True, help="dataset quality metrics")
@click.option("--datasets", required=True, help="folder of <method>.jsonl datasets")
@click.option("--pruned", "pruned_dir", required=True, help="folder of <iteration>/pruned.jsonl")
@click.option("--report", required=True, help="markdown table")
@click.option("--plots", "plots_dir", required=True)
@exit_on_user_error
def main(downstream, quality, datasets, pruned_dir, report, plots_dir):
    params = load_params()
    methods, quality_scores = section(params, "eval")["methods"], read_json(quality)
    rows = {m: read_json(Path(downstream) / f"{m}.json") for m in methods}
    judged = any("judge" in q for q in quality_scores.values() if isinstance(q, dict))
    header = [c for c, _ in COLUMNS] + ["relevance"] + (["judge"] if judged else [])
    lines = [f"# Evaluation on `{section(params, 'segment')['input']}`", "",
             "| method | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for m in methods:
        q = quality_scores.get(m, {})
        cells = [fmt(lookup(rows[m], key), lookup(rows[m], key + "_sem")) for _, key in COLUMNS] + [fmt(q.get("relevance"))] + ([fmt(q.get("judge"))] if judged else [])
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if any(lookup(r, "answer.cosine_sem") is not None for r in rows.values()):
        lines += ["", "± is the standard error of the mean over the held-out pairs: a gap between two rows "
                  "smaller than about twice it is within chance."]
    lines += ["", "| Cycle-Filt | kept pairs | kept relevance | pruned pairs | pruned relevance |", "|---|---|---|---|---|"]
    for k in iteration_chain(params):
        q = quality_scores.get(f"cycle_filt_{k}", {})
        lines.append(f"| iteration {k} | {fmt(q.get('pairs'))} | {fmt(q.get('relevance'))} | {fmt(q.get('pruned_pairs'))} | {fmt(q.get('pruned_relevance'))} |")
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")

    trend = []
    for k in iteration_chain(params):
        for kind in ("cycle_inst", "cycle_filt"):
            if f"{kind}_{k}" in rows:
                r = rows[f"{kind}_{k}"]
                trend.append({"iteration": k, "method": kind, "answer_cosine": lookup(r, "answer.cosine"), "question_cosine": lookup(r, "question.cosine"), "answer_rouge_l": lookup(r, "answer.rouge_l")})
    write_json(Path(plots_dir) / "iterations.json", trend)
    last = iteration_chain(params)[-1]
    kept = [r.distance for r in read_records(Path(datasets) / f"cycle_filt_{last}.jsonl")]
    pruned = [r.distance for r in read_records(Path(pruned_dir) / str(last) / "pruned.jsonl")]
    bins = np.linspace(0, 2, 21)
    write_json(Path(plots_dir) / "distances.json", [
        {"distance": round(float(lo), 2), "kept": k, "pruned": p}
        for lo, k, p in zip(bins[:-1], histogram(kept, bins), histogram(pruned, bins))
    ])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
