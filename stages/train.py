"""Train one direction with LoRA on pseudo-pairs.

train_bwd (M_AQ): input the pseudo-answer, target the original question.
train_fwd (M_QA): input the pseudo-question, target the original answer.
train.init: fresh starts a new adapter every iteration; continue resumes iteration k-1's.
"""

import time

import click

from cycle_instruct.cycle import training_pairs
from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.models import has_adapter, load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.records import atomic_dir, read_records, write_json
from cycle_instruct.training import lora_model, train_lora


@click.command()
@click.option("--direction", required=True, type=click.Choice(["fwd", "bwd"]))
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--pairs", required=True, help="pseudo-labelled records to learn from")
@click.option("--previous", required=True, help="this direction's adapter of iteration k-1")
@click.option("--out", required=True, help="folder for the trained adapter")
@click.option("--metrics", required=True)
@click.option("--curve", required=True, help="per-step loss, for dvc plots")
@exit_on_user_error
def main(direction, base, pairs, previous, out, metrics, curve):
    start = time.perf_counter()
    cfg = section(load_params(), "train")
    if cfg.get("init", "fresh") not in ("fresh", "continue"):
        raise UserError(f"params.yaml: train.init is '{cfg['init']}'; use fresh or continue")
    records = read_records(pairs)
    tokenizer = load_tokenizer(base, padding_side="right")
    if cfg.get("init", "fresh") == "continue" and has_adapter(previous):
        model = load_model(base, previous, trainable=True)
    else:
        model = lora_model(load_model(base, trainable=True), cfg)
    steps, summary = train_lora(model, tokenizer, training_pairs(records, direction), cfg)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
    write_json(curve, steps)
    write_json(metrics, {**summary, "init": cfg.get("init", "fresh"), "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
