"""Evaluation: seed-driven back-translation (Rand-k%, Clust-k%), the paper's main baseline.

k% of the gold pairs are seeds, picked at random or as the pairs nearest the centres of a
k-means over their embeddings. A forward and a backward model trained on the seeds fill in
the missing side of every other pair, which is given one side only, as in the loop.
"""

from ..cycle import complete
from ..embedding import embed, load_embedder
from ..engines import HFEngine
from ..errors import UserError
from ..evaluation import cluster_seeds, only_side, take_share
from ..models import load_model, load_tokenizer
from ..prompts import load_prompts
from ..records import INSTRUCTION, RESPONSE, read_records, timed, write_json, write_records
from ..training import lora_model, train_lora, training_pairs
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, name, base, gold, out, prompt_files, metrics, timing=None):
    spec, seed = params.eval.seeds[name], params.eval.seed
    with timed(timing):
        prompts = load_prompts(prompt_files)
        pairs = read_records(gold)
        if len(pairs) < 2:
            raise UserError(f"{gold}: {len(pairs)} gold pairs; back-translation needs at least 2")
        if spec.select == "random":
            seeds = take_share(pairs, spec.percent, seed)
        else:
            vectors = embed(load_embedder(params.model.embedder, params.model.allow_hub), [p.original_text for p in pairs])
            seeds = [pairs[i] for i in cluster_seeds(vectors, max(1, round(len(pairs) * spec.percent / 100)), seed)]
        seed_ids = {p.id for p in seeds}
        rest = [only_side(p, p.original) for p in pairs if p.id not in seed_ids]
        tokenizer = load_tokenizer(base)
        dataset, report = list(seeds), {"seeds": len(seeds), "rest": len(rest)}
        # the backward model writes questions for answer-only pairs, the forward one answers the rest
        for direction, side in (("bwd", RESPONSE), ("fwd", INSTRUCTION)):
            model = lora_model(load_model(base, trainable=True), params.train)
            _, report[f"train_{direction}"] = train_lora(
                model, load_tokenizer(base, padding_side="right"), training_pairs(seeds, direction, prompts), params.train
            )
            engine = HFEngine(model=model, tokenizer=tokenizer)  # a fine-tune in memory, never saved
            filled, report[f"relabel_{direction}"] = complete(
                engine, [r for r in rest if r.original == side], params.generate, prompts
            )
            dataset += filled
            del model
        write_records(out, dataset)
        write_json(metrics, {**report, "pairs": len(dataset)})


command = stage_command(
    run,
    "eval_backtranslate",
    "Evaluation: a seed-driven back-translation baseline (Rand-k%, Clust-k%).",
    option("--name", required=True, help="the baseline, a key of eval.seeds (e.g. rand5, clust10)"),
    option("--base", required=True, help="prepared base model folder"),
    option("--gold", required=True, help="gold pairs of the training split"),
    output("--out", required=True, help="the baseline's dataset"),
    PROMPTS,
    METRICS,
    TIMING,
)
