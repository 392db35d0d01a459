"""An iteration's metrics files, read back by the run's summary and the dataset card.

dvc.yaml unrolls each iteration k into four stages, each writing metrics/iterations/<k>/<stage>.json.
"""

from pathlib import Path

from .records import read_json

ITERATION_STEPS = {  # an iteration's stages, in order, as dvc.yaml names them: what each makes
    "relabel_answers": "pseudo-answers by M_QA of the iteration before",
    "train_bwd": "M_AQ (answer -> question)",
    "relabel_questions": "pseudo-questions by M_AQ",
    "train_fwd": "M_QA (question -> answer)",
}


def iteration_metrics(metrics_dir, k) -> dict:
    """{stage: its metrics} of iteration k."""
    folder = Path(metrics_dir) / "iterations" / str(k)
    return {step: read_json(folder / f"{step}.json") for step in ITERATION_STEPS}
