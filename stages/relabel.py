"""Relabel: generate the missing side of every record with the given model.

Questions get pseudo-answers from M_QA of iteration k-1 (the base model when k = 1);
answers get pseudo-questions from M_AQ of iteration k.
"""

import time

import click

from cycle_instruct.cycle import relabel
from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.models import load_model, load_tokenizer
from cycle_instruct.params import load_params, section
from cycle_instruct.records import read_records, write_json, write_records


@click.command()
@click.option("--iteration", required=True, type=int)
@click.option("--base", required=True, help="prepared base model folder")
@click.option("--adapter", required=True, help="LoRA adapter folder (iteration 0: none)")
@click.option("--records", "records_in", required=True, help="records with one side filled")
@click.option("--out", required=True)
@click.option("--metrics", required=True)
@exit_on_user_error
def main(iteration, base, adapter, records_in, out, metrics):
    start = time.perf_counter()
    cfg = section(load_params(), "generate")
    records = read_records(records_in)
    tokenizer, model = load_tokenizer(base), load_model(base, adapter)
    relabelled, stats = relabel(model, tokenizer, records, cfg, iteration)
    if not relabelled:
        raise UserError(f"{out}: every generation was rejected ({stats['rejected_by_reason']}); see {metrics} and try more max_new_tokens or another base model")
    write_records(out, relabelled)
    write_json(metrics, {**stats, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
