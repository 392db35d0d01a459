"""Embed: reconstruct every pair's original side with the final models and measure the drift.

D_final (Cycle-Inst) = the last iteration's (q_i, a^_i) and (q^_j, a_j). With M_AQ and M_QA
of that iteration, q~_i = M_AQ(a^_i) and a~_j = M_QA(q^_j); each pair's distance is
||phi(original) - phi(reconstruction)||_2 with phi the sentence embedder. Every pair also gets its
relevance (cosine of its two sides) and every generated answer its support: the share of its content
words that the corpus paragraphs nearest to it contain (support.py).
"""

from tqdm import tqdm

from ..cycle import complete
from ..distances import distance_stats, embeddings_file, l2_distances
from ..embedding import dimension, embed, load_embedder
from ..engines import open_engine
from ..prompts import load_prompts
from ..records import INSTRUCTION, read_records, timed, write_json, write_records
from ..resume import clear
from ..retrieval import ParagraphIndex
from ..support import support_scores, support_stats
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def embed_dataset(embedder, dataset, embeddings, chunk: int = 4096, pool=None) -> list[float]:
    """Set each pair's distance and relevance (cosine of its two sides), write its original's embedding
    into the .npy `embeddings`, return the distances. Streamed: a chunk of originals goes straight into
    the file's memory map; the embeddings of their reconstructions and generated sides live only long
    enough to give the distances and relevances. With `pool`
    (generate.cluster: ray), the chunks go to its actors: each chunk is the same call on the same
    texts as here, so the same numbers."""
    jobs = []
    for start in range(0, len(dataset), chunk):
        # a pair whose reconstruction our checks rejected (an echo, a copy, boilerplate) gets no
        # distance: a copied pseudo-label would reconstruct perfectly and rank best otherwise
        rows = dataset[start : start + chunk]
        jobs.append(
            (
                start,
                (
                    [r.original_text for r in rows],
                    [r.generated_text for r in rows],
                    [r.reconstruction for r in rows if r.reconstruction is not None],
                ),
            )
        )
    if pool is None:
        dim, results = dimension(embedder), ((start, chunk_embeddings(embedder, *texts)) for start, texts in jobs)
    else:
        from ..engines.ray_cluster import spread

        dim, results = next(spread(pool, dimension, [(0, ())]))[1], spread(pool, chunk_embeddings, jobs)
    found = {}
    with embeddings_file(embeddings, len(dataset), dim) as originals:
        with tqdm(total=len(dataset), desc="embed", unit="text", disable=len(dataset) <= chunk) as bar:
            for start, (block, generated, rebuilt) in results:  # with a pool, in the order the actors finish
                originals[start : start + len(block)] = block
                for record, value in zip(dataset[start : start + len(block)], (block * generated).sum(axis=1)):
                    record.relevance = round(float(value), 6)
                scored = [i for i in range(len(block)) if dataset[start + i].reconstruction is not None]
                if scored:
                    d = l2_distances(block[scored], rebuilt)
                    for i, value in zip(scored, d):
                        dataset[start + i].distance = round(float(value), 6)
                    found[start] = d.tolist()
                bar.update(len(block))
    return [value for start in sorted(found) for value in found[start]]


def chunk_embeddings(embedder, originals: list[str], generated: list[str], reconstructions: list[str]):
    """One chunk's work: the embeddings of its originals, of their generated sides, and of the
    reconstructions that get a distance."""
    return (
        embed(embedder, originals, progress=False),
        embed(embedder, generated, progress=False),
        embed(embedder, reconstructions, progress=False) if reconstructions else None,
    )


def support_dataset(embedder, dataset, answers_file) -> list[float]:
    """Set the support (support.py) of every generated answer against the corpus's answer side; return them."""
    corpus = read_records(answers_file)
    asked = [r for r in dataset if r.original == INSTRUCTION]
    if not corpus or not asked:
        return []
    index = ParagraphIndex(embedder, [r.id for r in corpus], [r.response for r in corpus])
    for record, score in zip(asked, support_scores(index, [r.response for r in asked])):
        record.support = score
    return [r.support for r in asked]


def run(params, base, iterations_dir, out, embeddings, prompt_files, metrics, answers=None, iteration=None, timing=None):
    final = iteration if iteration is not None else params.chain[-1]
    with timed(timing):
        prompts = load_prompts(prompt_files)
        # pairs whose question is real are reconstructed by M_AQ, those whose answer is real by M_QA
        sides = [
            (read_records(f"{iterations_dir}/{final}/{pairs_file}.jsonl"), f"{iterations_dir}/{final}/{adapter}", name)
            for pairs_file, adapter, name in (("pseudo_answers", "m_aq", "questions"), ("pseudo_questions", "m_qa", "answers"))
        ]
        engine = open_engine(base, params.generate, params.train.lora_r, sum(len(pairs) for pairs, _, _ in sides))
        dataset, report = [], {"iteration": int(final)}
        for pairs, adapter, name in sides:
            records, report[f"reconstruct_{name}"] = complete(
                engine,
                pairs,
                params.generate,
                prompts,
                reads="generated",
                keep_rejected=True,
                adapter=adapter,
                resume_as=f"{out}.{name}",
            )
            dataset += records
        engine.close()
        embedder = None
        if params.generate.cluster == "ray":  # the embeddings spread over the cluster like the reconstructions
            from ..engines.ray_cluster import embedder_pool

            pool = embedder_pool(params.model.embedder, params.model.allow_hub, params.generate.data_parallel_size)
            try:
                distances = embed_dataset(None, dataset, embeddings, pool=pool)
            finally:
                pool.close()
        else:
            embedder = load_embedder(params.model.embedder, params.model.allow_hub)
            distances = embed_dataset(embedder, dataset, embeddings)
        if answers:  # on this machine (with ray too): one search per generated answer over the corpus's answer side
            if embedder is None:
                embedder = load_embedder(params.model.embedder, params.model.allow_hub)
            supports = support_dataset(embedder, dataset, answers)
        else:
            supports = []
        write_records(out, dataset)
        report["pairs"] = len(dataset)
        report["no_distance_rejected_reconstruction"] = len(dataset) - len(distances)
        report["distance"] = distance_stats(distances)
        report["support_generated_answers"] = support_stats(supports)
        report["tokens_generated"] = sum(v["tokens_generated"] for k, v in report.items() if k.startswith("reconstruct_"))
        write_json(metrics, report)
        for name in ("questions", "answers"):
            clear(f"{out}.{name}")


command = stage_command(
    run,
    "embed",
    "Reconstruct with the final models and measure cycle distances.",
    option("--base", required=True, help="prepared base model folder"),
    option("--iterations", "iterations_dir", required=True, help="folder holding one folder per iteration"),
    option("--iteration", type=int, default=None, help="the iteration to reconstruct (default: the last)"),
    option("--answers", help="the corpus's answer side (data/segments/answers.jsonl): each generated answer's support"),
    output("--out", required=True, help="Cycle-Inst dataset (JSONL) with distances"),
    output("--embeddings", required=True, help="embeddings of the original sides (.npy)"),
    PROMPTS,
    METRICS,
    TIMING,
)
