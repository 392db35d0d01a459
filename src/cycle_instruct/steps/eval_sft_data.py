"""Evaluation: the supervised reference datasets, cut from the gold pairs of the training split.

All-SFT uses 100% of the gold pairs, SFT-80 a seeded 80%, Vanilla 0% (the untuned base model).
"""

from ..errors import UserError
from ..evaluation import take_share
from ..records import read_records, write_records
from . import option, output, stage_command


def run(params, name, gold, out):
    pairs = read_records(gold)
    if not pairs:
        raise UserError(f"{gold}: no gold pairs; evaluation needs paired input (segment.format instructions or dialogue)")
    write_records(out, take_share(pairs, params.eval.sft[name], params.eval.seed))


command = stage_command(
    run,
    "eval_sft_data",
    "Evaluation: cut an SFT reference dataset from the gold pairs.",
    option("--name", required=True, help="a key of eval.sft (vanilla, all_sft, sft80)"),
    option("--gold", required=True, help="gold pairs of the training split (segment's gold file)"),
    output("--out", required=True),
)
