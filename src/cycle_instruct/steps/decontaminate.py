"""Decontaminate: drop every pair that shares `decontaminate.ngram` words in a row with an item of an
evaluation benchmark (local JSONL/Parquet files, or lm-eval tasks' documents), between prune and the
judge, so that the exported data can be scored on those benchmarks. With `against: []` the pairs pass
through and nothing is loaded."""

import functools
import hashlib
from dataclasses import asdict
from pathlib import Path

from ..decontaminate import Index, read_items
from ..records import read_records, timed, write_json, write_jsonl, write_records
from . import METRICS, TIMING, option, output, stage_command

REASON = "decontaminated"  # as prune's reasons: the reason a dropped pair carries, counted in the metrics


def benchmark_items(params, source) -> tuple[list[list[str]], str]:
    """The items of one benchmark and what identifies them (a file's sha256, or the task name)."""
    if source.file is not None:
        return read_items(source.file, source.fields), "sha256:" + hashlib.sha256(Path(source.file).read_bytes()).hexdigest()
    from ..harness import check_tasks, task_documents

    manager = lm_eval_tasks(params.model.allow_hub)
    check_tasks([source.task], manager, f"decontaminate.against ({source.name})")
    return task_documents(
        source.task, manager, params.model.allow_hub, f"decontaminate.against ({source.name})"
    ), "lm-eval:" + source.task


@functools.cache
def lm_eval_tasks(allow_hub: bool):
    """lm-eval's task index (about 15,000 tasks), built once for every `task` source."""
    from ..harness import go_offline, task_manager

    go_offline(allow_hub)
    return task_manager()


def run(params, dataset, out, dropped, metrics, timing=None):
    cfg = params.decontaminate
    with timed(timing):
        records = read_records(dataset)
        index, benchmarks = Index(cfg.ngram), {}
        for source in cfg.against:
            items, origin = benchmark_items(params, source)
            short = index.add(source.name, items)
            benchmarks[source.name] = {"items": len(items), "too_short": short, "source": origin, "dropped": 0}
        kept, rows = [], []
        for record in records:
            hit = index.match(record) if index.grams else None
            if hit is None:
                kept.append(record)
                continue
            benchmarks[hit[0]]["dropped"] += 1
            rows.append({**asdict(record), "reason": REASON, "benchmark": hit[0], "ngram": hit[1]})
        write_records(out, kept)
        write_jsonl(dropped, rows)
        write_json(
            metrics,
            {
                "in": len(records),
                "kept": len(kept),
                "dropped": len(rows),
                "dropped_by_reason": {REASON: len(rows)},
                "ngram": cfg.ngram,
                "by_benchmark": benchmarks,
            },
        )


command = stage_command(
    run,
    "decontaminate",
    "Drop the pairs that share an n-gram with an evaluation benchmark's items (decontaminate.against).",
    option("--dataset", required=True, help="the Cycle-Filt dataset"),
    output("--out", required=True, help="the pairs that share no n-gram with any benchmark"),
    output("--dropped", required=True, help="every dropped pair with its reason, benchmark and the shared words"),
    METRICS,
    TIMING,
)
