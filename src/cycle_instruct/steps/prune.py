"""Prune (Cycle-Filt): k-means over the originals' embeddings, then inside every cluster drop
the given fraction of pairs with the largest reconstruction distance. On top, if asked: drop
pairs farther than prune.max_distance, generated answers the corpus does not support (below
prune.min_support), and near-duplicates (each group keeps its closest pair)."""

import numpy as np

from ..dedup import near_duplicates
from ..distances import distance_histogram, distance_stats, load_embeddings
from ..errors import UserError
from ..pruning import NEAR_DUPLICATE, NO_DISTANCE, UNSUPPORTED, choose_k, cluster, drop_reasons, reason_counts
from ..records import read_records, timed, write_json, write_records
from ..support import support_stats
from . import METRICS, TIMING, option, output, stage_command

# by_side's keys, named by the side that is real text: `original` is "instruction" when the question is real
SIDES = {"real_question": "instruction", "real_answer": "response"}


def by_side(records, reasons) -> dict:
    """The filter's counts, distances, relevances and supports for each side apart: a side with much
    larger distances or weaker support, or pruned far more (or less) than the other, shows here and
    not in the pooled numbers. Only generated answers have a support: the real-question side."""
    out = {}
    for name, original in SIDES.items():
        mine = [(r, why) for r, why in zip(records, reasons) if r.original == original]
        kept, dropped = [r for r, why in mine if not why], [r for r, why in mine if why]
        out[name] = {
            "original": original,
            "in": len(mine),
            "kept": len(kept),
            "pruned": len(dropped),
            "pruned_by_reason": reason_counts([why for _, why in mine]),
            "distance_kept": distance_stats(r.distance for r in kept),
            "distance_pruned": distance_stats(r.distance for r in dropped if r.distance is not None),
            "relevance_kept": distance_stats(r.relevance for r in kept if r.relevance is not None),
            "relevance_pruned": distance_stats(r.relevance for r in dropped if r.relevance is not None),
            "support_kept": support_stats(r.support for r in kept),
            "support_pruned": support_stats(r.support for r in dropped),
        }
    return out


def decide(cfg, records, vectors):
    """Cycle-Filt's decision for every pair: (reasons, "" = kept; cluster labels, -1 for a pair without a distance; k).
    The view (cycle_instruct.view) calls it too, to show each pruned pair's reason and every pair's cluster."""
    # pairs without a distance (their reconstruction was rejected) are dropped first; the rest are clustered
    scored = np.flatnonzero([r.distance is not None for r in records])
    distances = np.array([records[i].distance for i in scored], dtype=float)
    k = choose_k(len(scored), cfg.k, cfg.min_cluster_size)
    reasons = np.full(len(records), NO_DISTANCE, dtype=object)
    clusters = np.full(len(records), -1, dtype=np.int64)
    if len(scored):
        sides = np.array([records[i].original for i in scored]) if cfg.rank == "per_side" else None
        labels = cluster(vectors[scored], k, cfg.seed, cfg.full_kmeans_max)
        clusters[scored] = labels
        reasons[scored] = drop_reasons(distances, labels, cfg.fraction, cfg.max_distance, sides)
    if cfg.min_support > 0:  # of the pairs the filter keeps, the generated answers the corpus does not state
        weak = [i for i, r in enumerate(records) if reasons[i] == "" and r.support is not None and r.support < cfg.min_support]
        reasons[weak] = UNSUPPORTED
    if cfg.dedup != "off":
        alive = np.flatnonzero(reasons == "")
        dupes = near_duplicates(cfg.dedup, [records[i] for i in alive], vectors[alive], cfg.dedup_threshold, cfg.seed)
        reasons[alive[dupes]] = NEAR_DUPLICATE
    return reasons, clusters, k


def run(params, dataset, embeddings, out, pruned, metrics, plot=None, timing=None):
    cfg = params.prune
    with timed(timing):
        records, vectors = read_records(dataset), load_embeddings(embeddings)
        if len(records) != len(vectors):
            raise UserError(
                f"{embeddings}: {len(vectors)} embeddings for {len(records)} records in {dataset}; run dvc repro embed"
            )
        reasons, _, k = decide(cfg, records, vectors)
        kept = [r for r, why in zip(records, reasons) if not why]
        dropped = [r for r, why in zip(records, reasons) if why]
        write_records(out, kept)
        write_records(pruned, dropped)
        write_json(
            metrics,
            {
                "in": len(records),
                "kept": len(kept),
                "pruned": len(dropped),
                "k": k,
                "pruned_by_reason": reason_counts(reasons),
                "distance_kept": distance_stats(r.distance for r in kept),
                "distance_pruned": distance_stats(r.distance for r in dropped if r.distance is not None),
                "support_kept": support_stats(r.support for r in kept),
                "rank": cfg.rank,
                "by_side": by_side(records, reasons),
            },
        )
        if plot:
            write_json(
                plot, distance_histogram([r.distance for r in kept], [r.distance for r in dropped if r.distance is not None])
            )


command = stage_command(
    run,
    "prune",
    "Cluster and drop the worst-reconstructed pairs (Cycle-Filt), then the quality controls.",
    option("--dataset", required=True, help="Cycle-Inst dataset with distances"),
    option("--embeddings", required=True),
    output("--out", required=True, help="Cycle-Filt dataset"),
    output("--pruned", required=True, help="every pair the filter dropped, for inspection (reasons counted in the metrics)"),
    METRICS,
    output("--plot", help="kept and pruned pairs per distance bin, for dvc plots"),
    TIMING,
)
