"""Embed: reconstruct every pair's original side with the final models and measure the drift.

D_final (Cycle-Inst) = the last iteration's (q_i, a^_i) and (q^_j, a_j). With M_AQ and M_QA
of that iteration, q~_i = M_AQ(a^_i) and a~_j = M_QA(q^_j); each pair's distance is
||phi(original) - phi(reconstruction)||_2 with phi the sentence embedder.
"""

import time

import click
import numpy as np

from cycle_instruct.cycle import reconstruct
from cycle_instruct.embedding import distance_stats, embed, l2_distances, load_embedder, save_embeddings
from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import iteration_chain, load_params, section
from cycle_instruct.records import read_records, write_json, write_records


@click.command()
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--iterations", "iterations_dir", required=True, help="folder holding one folder per iteration")
@click.option("--iteration", type=int, default=None, help="the iteration to reconstruct (default: the last)")
@click.option("--out", required=True, help="Cycle-Inst dataset (JSONL) with distances")
@click.option("--embeddings", required=True, help="embeddings of the original sides (.npy)")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(base, iterations_dir, iteration, out, embeddings, metrics):
    start = time.perf_counter()
    params = load_params()
    cfg, model_cfg = section(params, "generate"), section(params, "model")
    final = f"{iterations_dir}/{iteration if iteration is not None else iteration_chain(params)[-1]}"
    tokenizer = load_tokenizer(base)
    dataset, report = [], {"iteration": int(final.rsplit("/", 1)[1])}
    # pairs whose question is real are reconstructed by M_AQ, those whose answer is real by M_QA
    for pairs_file, adapter, name in (("pseudo_answers", "m_aq", "questions"), ("pseudo_questions", "m_qa", "answers")):
        model = load_model(base, f"{final}/{adapter}")
        records, report[f"reconstruct_{name}"] = reconstruct(model, tokenizer, read_records(f"{final}/{pairs_file}.jsonl"), cfg)
        dataset += records
        del model
    embedder = load_embedder(model_cfg["embedder"])
    originals = embed(embedder, [r.original_text for r in dataset])
    distances = l2_distances(originals, embed(embedder, [r.reconstruction for r in dataset]))
    for record, d in zip(dataset, distances):
        record.distance = round(float(d), 6)
    write_records(out, dataset)
    save_embeddings(embeddings, originals.astype(np.float32))
    report["pairs"] = len(dataset)
    report["distance"] = distance_stats(distances)
    report["tokens_generated"] = sum(v["tokens_generated"] for k, v in report.items() if k.startswith("reconstruct_"))
    write_json(metrics, {**report, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
