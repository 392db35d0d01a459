"""Evaluation: the supervised reference datasets, cut from the gold pairs of the training split.

All-SFT uses 100% of the gold pairs, SFT-80 a seeded 80%, Vanilla 0% (the untuned base model).
"""

import click

from cycle_instruct.errors import UserError, exit_on_user_error
from cycle_instruct.evaluation import take_share
from cycle_instruct.params import load_params, section
from cycle_instruct.records import read_records, write_records


@click.command()
@click.option("--name", required=True, help="a key of eval.sft (vanilla, all_sft, sft80)")
@click.option("--gold", required=True, help="gold pairs of the training split (segment's gold file)")
@click.option("--out", required=True)
@exit_on_user_error
def main(name, gold, out):
    cfg = section(load_params(), "eval")
    pairs = read_records(gold)
    if not pairs:
        raise UserError(f"{gold}: no gold pairs; evaluation needs paired input (segment.format instructions or dialogue)")
    write_records(out, take_share(pairs, float(cfg["sft"][name]), int(cfg.get("seed", 0))))


if __name__ == "__main__":
    main()
