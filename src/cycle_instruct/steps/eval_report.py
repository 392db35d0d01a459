"""Evaluation: the comparison table (like the paper's) and the data behind its plots."""

from pathlib import Path

from ..distances import distance_histogram
from ..records import atomic_path, read_json, read_records, write_json
from ..report import benchmark_lines, comparison_lines, comparisons, iteration_trend, per_item_scores, report_lines
from . import option, output, stage_command


def run(params, downstream, quality, datasets, pruned_dir, report, plots_dir, benchmarks, scores, samples):
    params.check_eval_methods()
    chain, methods = params.chain, params.eval.methods
    rows = {m: read_json(Path(downstream) / f"{m}.json") for m in methods}
    lines = report_lines(params.segment.input, methods, rows, read_json(quality), chain)
    lines += benchmark_lines(methods, {m: read_json(Path(benchmarks) / f"{m}.json") for m in methods})
    items = {m: per_item_scores(read_json(Path(scores) / f"{m}.json"), read_json(Path(samples) / f"{m}.json")) for m in methods}
    refs, iters = [r for r in params.eval.compare_to if r in methods], params.eval.bootstrap
    lines += comparison_lines(methods, refs, comparisons(methods, refs, items, iters, params.eval.seed), iters)
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_json(Path(plots_dir) / "iterations.json", iteration_trend(rows, chain))
    kept = [r.distance for r in read_records(Path(datasets) / f"cycle_filt_{chain[-1]}.jsonl")]
    pruned = [r.distance for r in read_records(Path(pruned_dir) / str(chain[-1]) / "pruned.jsonl")]
    write_json(Path(plots_dir) / "distances.json", distance_histogram(kept, pruned))
    print("\n".join(lines))


command = stage_command(
    run,
    "eval_report",
    "Evaluation: write the comparison table and the data of its plots.",
    option("--downstream", required=True, help="folder of <method>.json downstream metrics"),
    option("--quality", required=True, help="dataset quality metrics"),
    option("--datasets", required=True, help="folder of <method>.jsonl datasets"),
    option("--pruned", "pruned_dir", required=True, help="folder of <iteration>/pruned.jsonl"),
    output("--report", required=True, help="markdown table"),
    output("--plots", "plots_dir", required=True),
    option("--benchmarks", required=True, help="folder of <method>.json lm-eval metrics"),
    option("--scores", required=True, help="folder of <method>.json per-item downstream scores"),
    option("--samples", required=True, help="folder of <method>.json per-document lm-eval scores"),
)
