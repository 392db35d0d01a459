"""Evaluation: the held-out split as an lm-eval task (`cycle_heldout`): each held-out question, its gold
answer and up to three answers of other held-out pairs, scored by log-likelihood. Offline, so the
CPU profile's benchmark runs with no hub."""

from pathlib import Path

from ..benchmarks import HELDOUT_TASK, heldout_rows, heldout_yaml
from ..errors import UserError
from ..records import atomic_dir, read_records, write_jsonl
from . import option, output, stage_command


def run(params, test, out):
    held_out = read_records(test)
    if len(held_out) < 2:
        raise UserError(f"{test}: {len(held_out)} held-out pairs; the held-out task needs 2 or more: raise segment.test_size")
    with atomic_dir(out) as tmp:
        write_jsonl(tmp / f"{HELDOUT_TASK}.jsonl", heldout_rows(held_out, params.eval.seed))
        data = (Path(out) / f"{HELDOUT_TASK}.jsonl").as_posix()  # where it lies once in place, from the repo root
        (tmp / f"{HELDOUT_TASK}.yaml").write_text(heldout_yaml(data), encoding="utf-8")


command = stage_command(
    run,
    "eval_benchmark_task",
    "Evaluation: build the held-out split's lm-eval task (multiple choice).",
    option("--test", required=True, help="held-out gold pairs (segment's test file)"),
    output("--out", required=True, help="folder for the task's YAML and data"),
)
