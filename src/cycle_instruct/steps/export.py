"""Export: the final pairs (Cycle-Filt, then the optional judge) in the formats other tools read (export.formats), and a
dataset card (README.md) written from the run's metrics and params."""

import os
import subprocess
from collections import Counter
from pathlib import Path

from ..dataset_card import dataset_card
from ..errors import UserError
from ..export import FORMATS, check_pairs, files_digest, write_format
from ..inputs import find_inputs
from ..metrics import iteration_metrics
from ..records import atomic_dir, read_json, read_records, timed
from . import TIMING, option, output, stage_command


def run(params, dataset, metrics_dir, out, timing=None):
    cfg = params.export
    with timed(timing):
        records = read_records(dataset)
        check_pairs(records, dataset)
        root = Path(metrics_dir)
        optional = lambda path: read_json(path) if path.exists() else None  # noqa: E731
        metrics = {name: read_json(root / f"{name}.json") for name in ("segment", "reformat", "embed", "prune", "judge")}
        metrics["iterations"] = {str(k): iteration_metrics(root, k) for k in params.chain}
        metrics["prepare_base"], metrics["distances"], metrics["decontaminate"] = (
            optional(root / "prepare_base.json"),
            optional(root / "plots" / "distances.json"),
            optional(root / "decontaminate.json"),
        )
        if metrics["judge"]["kept"] != len(records):
            raise UserError(
                f"{root / 'judge.json'}: {metrics['judge']['kept']} pairs kept, but {dataset} holds {len(records)}; "
                "the metrics are not this dataset's: run dvc repro"
            )
        seg = params.segment
        inputs = find_inputs(seg.input, seg.include, Counter(), seg.follow_symlinks)
        top = Path(seg.input) if Path(seg.input).is_dir() else Path(seg.input).parent
        corpus = {"inputs": [p.as_posix() for p in inputs], "sha256": files_digest(inputs, top)}
        sections = {
            "model": params.model,
            "segment": seg,
            "reformat": params.reformat,
            "relabel": params.relabel,
            "generate": params.generate,
            "train": params.train,
            "iterations": params.iterations,
            "prune": params.prune,
            "decontaminate": params.decontaminate,
            "export": cfg,
        }
        run_info = {"dataset": Path(dataset).as_posix(), **provenance()}
        with atomic_dir(out) as tmp:
            files = {fmt: (write_format(tmp, fmt, records).name, len(records), FORMATS[fmt].columns) for fmt in cfg.formats}
            card = dataset_card(sections, metrics, files, corpus, run_info)
            (tmp / "README.md").write_text(card, encoding="utf-8")


def provenance() -> dict:
    """What identifies the run: the git commit, changes to tracked files (besides what a run writes) and, under
    `dvc repro`, the md5 of each of this stage's deps as DVC records it in dvc.lock. dvc.lock itself cannot: DVC
    rewrites it after this stage (and after the summary), so no commit holds the file this stage sees."""

    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = (git("rev-parse", "HEAD") or "").strip() or "none (not a git checkout, or no commit yet)"
    changed = [line[3:] for line in (git("status", "--porcelain", "--untracked-files=no") or "").splitlines()]
    written = ("dvc.lock", "metrics/", "data/models/fingerprint/")  # what the run itself writes into git
    dirty = [p for p in changed if not p.startswith(written)]
    stage = os.environ.get("DVC_STAGE")  # dvc sets DVC_STAGE for the commands it runs
    # the workspace the run reads is the folder it runs in (a queued or --temp experiment's own), not DVC_ROOT
    return {"commit": commit, "dirty": dirty, "stage": stage, "deps": dep_md5s(os.getcwd(), stage) if stage else None}


def dep_md5s(root, stage: str) -> dict[str, str]:
    """{path: md5} of the stage's deps (params aside) as in dvc.lock, by DVC's own hashing (a folder's is its .dir hash)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(root) as repo:
        (found,) = repo.stage.collect(stage)
        return {dep.def_path: dep.get_hash().value for dep in found.deps if not isinstance(dep, ParamsDependency)}


command = stage_command(
    run,
    "export",
    "Write the Cycle-Filt pairs as messages/ShareGPT/Alpaca JSONL and Parquet, with a dataset card.",
    option("--dataset", required=True, help="the final pairs (data/judge/passed.jsonl: Cycle-Filt, then the optional judge)"),
    option("--metrics-dir", required=True, help="the stages' metrics, which the card reports"),
    output(
        "--out",
        required=True,
        help=f"folder for {', '.join(f.file for f in FORMATS.values())} (those of export.formats) and README.md",
    ),
    TIMING,
)
