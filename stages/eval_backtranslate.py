"""Evaluation: seed-driven back-translation (Rand-k%, Clust-k%), the paper's main baseline.

k% of the gold pairs are seeds, picked at random or as the pairs nearest the centres of a
k-means over their embeddings. A forward and a backward model trained on the seeds fill in
the missing side of every other pair, which is given one side only, as in the loop.
"""

import time

import click

from cycle_instruct.cycle import relabel, training_pairs
from cycle_instruct.embedding import embed, load_embedder
from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.evaluation import cluster_seeds, only_side, take_share
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.records import INSTRUCTION, RESPONSE, read_records, write_json, write_records
from cycle_instruct.training import lora_model, train_lora


@click.command()
@click.option("--name", required=True, help="the baseline, a key of eval.seeds (e.g. rand5, clust10)")
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--gold", required=True, help="gold pairs of the training split")
@click.option("--out", required=True, help="the baseline's dataset")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(name, base, gold, out, metrics):
    start = time.perf_counter()
    params = load_params()
    spec, seed = section(params, "eval")["seeds"][name], int(section(params, "eval").get("seed", 0))
    if spec.get("select") not in ("random", "cluster"):
        raise UserError(f"params.yaml: eval.seeds.{name}.select is '{spec.get('select')}'; use random or cluster")
    pairs = read_records(gold)
    if len(pairs) < 2:
        raise UserError(f"{gold}: {len(pairs)} gold pairs; back-translation needs at least 2")
    n_seeds = max(1, round(len(pairs) * float(spec["percent"]) / 100))
    if spec["select"] == "random":
        seeds = take_share(pairs, float(spec["percent"]), seed)
    else:
        vectors = embed(load_embedder(section(params, "model")["embedder"]), [p.original_text for p in pairs])
        seeds = [pairs[i] for i in cluster_seeds(vectors, n_seeds, seed)]
    seed_ids = {p.id for p in seeds}
    rest = [only_side(p, p.original) for p in pairs if p.id not in seed_ids]
    tokenizer = load_tokenizer(base)
    dataset, report = list(seeds), {"seeds": len(seeds), "rest": len(rest)}
    # the backward model writes questions for answer-only pairs, the forward one answers the rest
    for direction, side in (("bwd", RESPONSE), ("fwd", INSTRUCTION)):
        model = lora_model(load_model(base, trainable=True), section(params, "train"))
        _, report[f"train_{direction}"] = train_lora(model, load_tokenizer(base, padding_side="right"), training_pairs(seeds, direction), section(params, "train"))
        filled, report[f"relabel_{direction}"] = relabel(model, tokenizer, [r for r in rest if r.original == side], section(params, "generate"), iteration=0)
        dataset += filled
        del model
    write_records(out, dataset)
    write_json(metrics, {**report, "pairs": len(dataset), "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
