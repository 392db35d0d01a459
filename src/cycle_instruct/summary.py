"""The run's summary: keys that do not depend on the number of iterations, so that
`dvc metrics diff` between a T=1 run and a T=2 run shows what the extra iteration changed."""

from pathlib import Path

from .records import read_json


def summarize_run(metrics_dir, chain: list[int], prune_metrics: dict) -> dict:
    root = Path(metrics_dir)
    last = root / "iterations" / str(chain[-1])
    segment, embed = read_json(root / "segment.json"), read_json(root / "embed.json")
    stage_files = [root / f"{n}.json" for n in ("prepare_base", "segment", "reformat", "embed")]
    stage_files += sorted((root / "iterations").glob("*/*.json"))
    every = [read_json(f) for f in stage_files if f.exists()] + [prune_metrics]
    step = {n: read_json(last / f"{n}.json") for n in ("relabel_answers", "train_bwd", "relabel_questions", "train_fwd")}
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
        "cycle_filt_pairs": prune_metrics["kept"],
        "pruned": prune_metrics["pruned"],
        "distance": embed["distance"],
        "tokens_generated": sum(m.get("tokens_generated", 0) for m in every),
        "wall_seconds": round(sum(m.get("wall_seconds", 0) for m in every), 1),
    }
