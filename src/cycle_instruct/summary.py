"""The run's summary: keys that do not depend on the number of iterations, so that
`dvc metrics diff` between a T=1 run and a T=2 run shows what the extra iteration changed."""

from pathlib import Path

from .metrics import iteration_metrics
from .records import read_json


def summarize_run(metrics_dir, chain: list[int]) -> dict:
    root = Path(metrics_dir)
    segment, embed, prune = (read_json(root / f"{n}.json") for n in ("segment", "embed", "prune"))
    # the chain's iterations only: DVC leaves the metrics of an iteration taken out of params.yaml behind
    stage_files = [root / f"{n}.json" for n in ("reformat", "embed")] + [
        f for k in chain for f in sorted((root / "iterations" / str(k)).glob("*.json"))
    ]
    step = iteration_metrics(root, chain[-1])
    return {
        "iterations": len(chain),
        "questions": segment["questions"],
        "answers": segment["answers"],
        "last_iteration": {
            "pseudo_answers": step["relabel_answers"]["out"],
            "pseudo_answers_rejected": step["relabel_answers"]["rejected"],
            "pseudo_questions": step["relabel_questions"]["out"],
            "pseudo_questions_rejected": step["relabel_questions"]["rejected"],
            "train_bwd_loss": step["train_bwd"]["mean_loss_last_epoch"],
            "train_fwd_loss": step["train_fwd"]["mean_loss_last_epoch"],
        },
        "cycle_inst_pairs": embed["pairs"],
        "cycle_filt_pairs": prune["kept"],
        "pruned": prune["pruned"],
        "distance": embed["distance"],
        "tokens_generated": sum(read_json(f).get("tokens_generated", 0) for f in stage_files if f.exists()),
    }
