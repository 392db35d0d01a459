"""Embed: reconstruct every pair's original side with the final models and measure the drift.

D_final (Cycle-Inst) = the last iteration's (q_i, a^_i) and (q^_j, a_j). With M_AQ and M_QA
of that iteration, q~_i = M_AQ(a^_i) and a~_j = M_QA(q^_j); each pair's distance is
||phi(original) - phi(reconstruction)||_2 with phi the sentence embedder.
"""

import numpy as np

from ..cycle import complete
from ..distances import distance_stats, l2_distances, save_embeddings
from ..embedding import embed, load_embedder
from ..engines import open_engine
from ..records import read_records, timed, write_json, write_records
from ..resume import clear
from . import METRICS, TIMING, option, output, stage_command


def run(params, base, iterations_dir, out, embeddings, metrics, iteration=None, timing=None):
    final = iteration if iteration is not None else params.chain[-1]
    with timed(timing):
        # pairs whose question is real are reconstructed by M_AQ, those whose answer is real by M_QA
        sides = [(read_records(f"{iterations_dir}/{final}/{pairs_file}.jsonl"), f"{iterations_dir}/{final}/{adapter}", name)
                 for pairs_file, adapter, name in (("pseudo_answers", "m_aq", "questions"), ("pseudo_questions", "m_qa", "answers"))]
        engine = open_engine(base, params.generate, params.train.lora_r, sum(len(pairs) for pairs, _, _ in sides))
        dataset, report = [], {"iteration": int(final)}
        for pairs, adapter, name in sides:
            records, report[f"reconstruct_{name}"] = complete(engine, pairs, params.generate, reads="generated", keep_rejected=True,
                                                              adapter=adapter, resume_as=f"{out}.{name}")
            dataset += records
        engine.close()
        embedder = load_embedder(params.model.embedder, params.model.allow_hub)
        originals = embed(embedder, [r.original_text for r in dataset])
        distances = l2_distances(originals, embed(embedder, [r.reconstruction for r in dataset]))
        for record, d in zip(dataset, distances):
            record.distance = round(float(d), 6)
        write_records(out, dataset)
        save_embeddings(embeddings, originals.astype(np.float32))
        report["pairs"] = len(dataset)
        report["distance"] = distance_stats(distances)
        report["tokens_generated"] = sum(v["tokens_generated"] for k, v in report.items() if k.startswith("reconstruct_"))
        write_json(metrics, report)
        for name in ("questions", "answers"):
            clear(f"{out}.{name}")


command = stage_command(
    run, "embed", "Reconstruct with the final models and measure cycle distances.",
    option("--base", required=True, help="prepared base model folder"),
    option("--iterations", "iterations_dir", required=True, help="folder holding one folder per iteration"),
    option("--iteration", type=int, default=None, help="the iteration to reconstruct (default: the last)"),
    output("--out", required=True, help="Cycle-Inst dataset (JSONL) with distances"),
    output("--embeddings", required=True, help="embeddings of the original sides (.npy)"),
    METRICS,
    TIMING,
)
