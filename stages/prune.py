"""Prune (Cycle-Filt): k-means over the originals' embeddings, then inside every cluster drop
the given fraction of pairs with the largest reconstruction distance. Also writes the run's
summary (metrics/summary.json), since pruning is the last step of the method."""

import time

import click
import numpy as np

from cycle_instruct.embedding import distance_stats, load_embeddings
from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.params import iteration_chain, load_params, section
from cycle_instruct.pruning import choose_k, cluster, prune
from cycle_instruct.records import read_records, write_json, write_records
from cycle_instruct.summary import summarize_run


@click.command()
@click.option("--dataset", required=True, help="Cycle-Inst dataset with distances")
@click.option("--embeddings", required=True)
@click.option("--out", required=True, help="Cycle-Filt dataset")
@click.option("--pruned", required=True, help="the pairs the filter dropped, for inspection")
@click.option("--metrics", required=True)
@click.option("--metrics-dir", help="the other stages' metrics, for the summary")
@click.option("--summary", help="where to write the run's summary (needs --metrics-dir)")
@exit_on_user_error
def main(dataset, embeddings, out, pruned, metrics, metrics_dir, summary):
    start = time.perf_counter()
    params = load_params()
    cfg = section(params, "prune")
    records, vectors = read_records(dataset), load_embeddings(embeddings)
    if len(records) != len(vectors):
        raise UserError(f"{embeddings}: {len(vectors)} embeddings for {len(records)} records in {dataset}; run dvc repro embed")
    k = choose_k(len(records), int(cfg["k"]), int(cfg["min_cluster_size"]))
    labels = cluster(vectors, k, int(cfg.get("seed", 0)))
    keep = prune(np.array([r.distance for r in records]), labels, float(cfg["fraction"]))
    kept = [r for r, m in zip(records, keep) if m]
    dropped = [r for r, m in zip(records, keep) if not m]
    write_records(out, kept)
    write_records(pruned, dropped)
    report = {
        "in": len(records), "kept": len(kept), "pruned": len(dropped), "k": k,
        "distance_kept": distance_stats(r.distance for r in kept),
        "distance_pruned": distance_stats(r.distance for r in dropped),
        "wall_seconds": round(time.perf_counter() - start, 2),
    }
    write_json(metrics, report)
    if summary:
        write_json(summary, summarize_run(metrics_dir, iteration_chain(params), report))


if __name__ == "__main__":
    main()
