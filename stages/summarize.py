"""Summarize: one metrics file whose keys do not depend on the number of iterations, so
`dvc metrics diff` between a T=1 and a T=2 run shows what the extra iteration changed."""

from pathlib import Path

import click

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.params import iteration_chain, load_params
from cycle_instruct.records import read_json, write_json


@click.command()
@click.option("--metrics-dir", required=True, help="folder of the per-stage metrics")
@click.option("--out", required=True)
@exit_on_user_error
def main(metrics_dir, out):
    root = Path(metrics_dir)
    chain = iteration_chain(load_params())
    last = root / "iterations" / str(chain[-1])
    segment, embed, prune = (read_json(root / f"{n}.json") for n in ("segment", "embed", "prune"))
    stage_files = [root / f"{n}.json" for n in ("prepare_base", "segment", "reformat", "embed", "prune")]
    stage_files += sorted((root / "iterations").glob("*/*.json"))
    every = [read_json(f) for f in stage_files if f.exists()]
    last_stage = {n: read_json(last / f"{n}.json") for n in ("relabel_answers", "train_bwd", "relabel_questions", "train_fwd")}
    write_json(out, {
        "iterations": len(chain),
        "questions": segment["questions"],
        "answers": segment["answers"],
        "last_iteration": {
            "pseudo_answers": last_stage["relabel_answers"]["out"],
            "pseudo_answers_rejected": last_stage["relabel_answers"]["rejected"],
            "pseudo_questions": last_stage["relabel_questions"]["out"],
            "pseudo_questions_rejected": last_stage["relabel_questions"]["rejected"],
            "train_bwd_loss": last_stage["train_bwd"]["mean_loss_last_epoch"],
            "train_fwd_loss": last_stage["train_fwd"]["mean_loss_last_epoch"],
        },
        "cycle_inst_pairs": embed["pairs"],
        "cycle_filt_pairs": prune["kept"],
        "pruned": prune["pruned"],
        "distance": embed["distance"],
        "tokens_generated": sum(m.get("tokens_generated", 0) for m in every),
        "wall_seconds": round(sum(m.get("wall_seconds", 0) for m in every), 1),
    })


if __name__ == "__main__":
    main()
