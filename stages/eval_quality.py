"""Evaluation: quality of each method's dataset without any training.

Relevance of a pair = cosine of the embeddings of its instruction and its response. For
Cycle-Filt, the pairs the filter pruned are scored too: a useful filter prunes pairs that
are less relevant than the ones it keeps. With eval.judge the base model also rates each
pair from 1 to 5 (slow on a CPU; off by default).
"""

import re
import time
from pathlib import Path

import click

from cycle_instruct.embedding import embed, load_embedder
from cycle_instruct.evaluation import cosine_rows, mean
from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.generate import generate
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.prompts import judge_messages
from cycle_instruct.records import read_records, write_json


def relevance(embedder, records) -> list[float]:
    if not records:
        return []
    return cosine_rows(embed(embedder, [r.instruction for r in records]), embed(embedder, [r.response for r in records])).tolist()


@click.command()
@click.option("--base", required=True, help="prepared base model folder (for the optional judge)")
@click.option("--datasets", required=True, help="folder of <method>.jsonl datasets")
@click.option("--pruned", "pruned_dir", required=True, help="folder of <iteration>/pruned.jsonl from the cycle filter")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(base, datasets, pruned_dir, metrics):
    start = time.perf_counter()
    params = load_params()
    cfg = section(params, "eval")
    embedder = load_embedder(section(params, "model")["embedder"])
    judge = (load_tokenizer(base), load_model(base)) if cfg.get("judge") else None
    report = {}
    for path in sorted(Path(datasets).glob("*.jsonl")):
        records = read_records(path)
        if not records:
            continue
        scores = {"pairs": len(records), "relevance": mean(relevance(embedder, records))}
        if judge:
            replies = generate(judge[1], judge[0], [judge_messages(r.instruction, r.response) for r in records], {**section(params, "generate"), "max_new_tokens": 4, "temperature": 0}, desc=f"judge {path.stem}")
            scores["judge"] = mean(int(m.group()) if (m := re.search(r"[1-5]", g.text)) else None for g in replies)
        if path.stem.startswith("cycle_filt_"):
            pruned = read_records(Path(pruned_dir) / path.stem.removeprefix("cycle_filt_") / "pruned.jsonl")
            scores["pruned_pairs"], scores["pruned_relevance"] = len(pruned), mean(relevance(embedder, pruned))
        report[path.stem] = scores
    write_json(metrics, {**report, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
