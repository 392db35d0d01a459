"""Export: the final pairs (Cycle-Filt, then the optional judge) in the formats other tools read (export.formats), and a
dataset card (README.md) written from the run's metrics and params."""

import hashlib
import subprocess
from collections import Counter
from pathlib import Path

from ..card import dataset_card
from ..errors import UserError
from ..export import FILES, check_pairs, files_digest, write_format
from ..inputs import find_inputs
from ..records import atomic_dir, read_json, read_records, timed
from . import TIMING, option, output, stage_command

STEPS = ("relabel_answers", "train_bwd", "relabel_questions", "train_fwd")


def run(params, dataset, metrics_dir, lock, out, timing=None):
    cfg = params.export
    with timed(timing):
        records = read_records(dataset)
        check_pairs(records, dataset)
        root = Path(metrics_dir)
        optional = lambda path: read_json(path) if path.exists() else None  # noqa: E731
        metrics = {name: read_json(root / f"{name}.json") for name in ("segment", "reformat", "embed", "prune", "judge")}
        metrics["iterations"] = {str(k): {s: read_json(root / "iterations" / str(k) / f"{s}.json") for s in STEPS} for k in params.chain}
        metrics["prepare_base"], metrics["distances"] = optional(root / "prepare_base.json"), optional(root / "plots" / "distances.json")
        if metrics["judge"]["kept"] != len(records):
            raise UserError(f"{root / 'judge.json'}: {metrics['judge']['kept']} pairs kept, but {dataset} holds {len(records)}; "
                            "the metrics are not this dataset's: run dvc repro")
        seg = params.segment
        inputs = find_inputs(seg.input, seg.include, Counter())
        top = Path(seg.input) if Path(seg.input).is_dir() else Path(seg.input).parent
        corpus = {"inputs": [p.as_posix() for p in inputs], "sha256": files_digest(inputs, top)}
        sections = {"model": params.model, "segment": seg, "reformat": params.reformat, "generate": params.generate,
                    "train": params.train, "iterations": params.iterations, "prune": params.prune, "export": cfg}
        run_info = provenance(dataset, lock)
        with atomic_dir(out) as tmp:
            files = {fmt: (write_format(tmp, fmt, records).name, len(records)) for fmt in cfg.formats}
            card = dataset_card(sections, metrics, files, corpus, run_info)
            (tmp / "README.md").write_text(card, encoding="utf-8")


def provenance(dataset, lock) -> dict:
    """The git commit, changes to tracked files (besides what a run writes), and the hashes of dvc.lock and the dataset."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = (git("rev-parse", "HEAD") or "").strip() or "none (not a git checkout, or no commit yet)"
    changed = [line[3:] for line in (git("status", "--porcelain", "--untracked-files=no") or "").splitlines()]
    dirty = [p for p in changed if p != "dvc.lock" and not p.startswith("metrics/")]
    lock = Path(lock)
    return {
        "commit": commit, "dirty": dirty,
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else f"none ({lock} not written yet)",
        "dataset_md5": hashlib.md5(Path(dataset).read_bytes()).hexdigest(),
    }


command = stage_command(
    run, "export", "Write the Cycle-Filt pairs as messages/ShareGPT/Alpaca JSONL and Parquet, with a dataset card.",
    option("--dataset", required=True, help="the final pairs (data/judge/passed.jsonl: Cycle-Filt, then the optional judge)"),
    option("--metrics-dir", required=True, help="the stages' metrics, which the card reports"),
    option("--lock", default="dvc.lock", show_default=True, help="dvc.lock, whose hash the card records (not a dep: DVC writes it)"),
    output("--out", required=True, help=f"folder for {', '.join(FILES.values())} (those of export.formats) and README.md"),
    TIMING,
)
