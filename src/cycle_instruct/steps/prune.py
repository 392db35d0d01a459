"""Prune (Cycle-Filt): k-means over the originals' embeddings, then inside every cluster drop
the given fraction of pairs with the largest reconstruction distance."""

import numpy as np

from ..distances import distance_histogram, distance_stats, load_embeddings
from ..errors import UserError
from ..pruning import choose_k, cluster, prune
from ..records import read_records, timed, write_json, write_records
from . import METRICS, TIMING, option, output, stage_command


def run(params, dataset, embeddings, out, pruned, metrics, plot=None, timing=None):
    cfg = params.prune
    with timed(timing):
        records, vectors = read_records(dataset), load_embeddings(embeddings)
        if len(records) != len(vectors):
            raise UserError(f"{embeddings}: {len(vectors)} embeddings for {len(records)} records in {dataset}; run dvc repro embed")
        k = choose_k(len(records), cfg.k, cfg.min_cluster_size)
        labels = cluster(vectors, k, cfg.seed)
        keep = prune(np.array([r.distance for r in records]), labels, cfg.fraction)
        kept = [r for r, m in zip(records, keep) if m]
        dropped = [r for r, m in zip(records, keep) if not m]
        write_records(out, kept)
        write_records(pruned, dropped)
        write_json(metrics, {
            "in": len(records), "kept": len(kept), "pruned": len(dropped), "k": k,
            "distance_kept": distance_stats(r.distance for r in kept),
            "distance_pruned": distance_stats(r.distance for r in dropped),
        })
        if plot:
            write_json(plot, distance_histogram([r.distance for r in kept], [r.distance for r in dropped]))


command = stage_command(
    run, "prune", "Cluster and drop the worst-reconstructed pairs (Cycle-Filt).",
    option("--dataset", required=True, help="Cycle-Inst dataset with distances"),
    option("--embeddings", required=True),
    output("--out", required=True, help="Cycle-Filt dataset"),
    output("--pruned", required=True, help="the pairs the filter dropped, for inspection"),
    METRICS,
    output("--plot", help="kept and pruned pairs per distance bin, for dvc plots"),
    TIMING,
)
