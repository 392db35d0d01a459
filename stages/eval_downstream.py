"""Evaluation: fine-tune the base model on one method's dataset and score it on the test split.

Both directions, with the same LoRA settings for every method (params `train`): the forward
model answers the held-out questions, the backward model writes the question behind each
held-out answer. Each output is compared with the gold text by embedding cosine and ROUGE-L.
An empty dataset (Vanilla) scores the untuned base model.
"""

import time

import click

from cycle_instruct.cycle import relabel, training_pairs
from cycle_instruct.embedding import embed, load_embedder
from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.evaluation import cosine_rows, mean, only_side, rouge_l, sem
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.records import INSTRUCTION, RESPONSE, Record, read_records, write_json, write_records
from cycle_instruct.training import lora_model, train_lora


@click.command()
@click.option("--method", required=True)
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--dataset", required=True, help="the method's training pairs")
@click.option("--test", "test_file", required=True, help="held-out gold pairs (segment's test file)")
@click.option("--predictions", required=True)
@click.option("--metrics", required=True)
@exit_on_user_error
def main(method, base, dataset, test_file, predictions, metrics):
    start = time.perf_counter()
    params = load_params()
    pairs, test = read_records(dataset), read_records(test_file)
    if not test:
        raise UserError(f"{test_file}: no held-out pairs; set segment.test_size (see README, Evaluation)")
    tokenizer = load_tokenizer(base)
    embedder = load_embedder(section(params, "model")["embedder"])
    report, outputs = {"method": method, "train_pairs": len(pairs)}, []
    for direction, target in (("fwd", RESPONSE), ("bwd", INSTRUCTION)):
        model = load_model(base, trainable=bool(pairs))
        if pairs:
            model = lora_model(model, section(params, "train"))
            _, report[f"train_{direction}"] = train_lora(model, load_tokenizer(base, padding_side="right"), training_pairs(pairs, direction), section(params, "train"))
        # each test pair shows the model only the side it reads; it writes the other
        inputs = [only_side(t, INSTRUCTION if target == RESPONSE else RESPONSE) for t in test]
        # every output is scored as written; the checks that drop pseudo-pairs only count here
        filled, stats = relabel(model, tokenizer, inputs, section(params, "generate"), iteration=0, keep_rejected=True)
        texts = [getattr(r, target) for r in filled]
        gold = [getattr(t, target) for t in test]
        cosines = cosine_rows(embed(embedder, texts), embed(embedder, gold)).tolist()
        rouges = [rouge_l(c, g) for c, g in zip(texts, gold)]
        report["answer" if target == RESPONSE else "question"] = {
            "cosine": mean(cosines), "cosine_sem": sem(cosines),
            "rouge_l": mean(rouges), "rouge_l_sem": sem(rouges),
            "rejected": stats["rejected"], "rejected_by_reason": stats["rejected_by_reason"], "unfinished": stats["unfinished"],
        }
        outputs += [Record(id=t.id, original=target, instruction=t.instruction, response=t.response, reconstruction=text) for t, text in zip(test, texts)]
        del model
    write_records(predictions, outputs)
    write_json(metrics, {**report, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
