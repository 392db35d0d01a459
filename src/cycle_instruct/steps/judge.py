"""Judge (optional, off by default): the base model rates every Cycle-Filt pair 1-5 with
prompts/judge.txt, and pairs below judge.min_score are set aside. Off, the stage passes the
pairs through untouched and loads no model, so the pipeline's shape never changes."""

from collections import Counter

from ..engines import open_engine
from ..prompts import load_prompts
from ..quality import judge_scores
from ..records import read_records, timed, write_json, write_records
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, base, dataset, out, rejected, prompt_files, metrics, timing=None):
    cfg = params.judge
    with timed(timing):
        records = read_records(dataset)
        if not cfg.enabled:
            write_records(out, records)
            write_records(rejected, [])
            write_json(metrics, {"enabled": False, "in": len(records), "kept": len(records), "rejected": 0})
            return
        prompts = load_prompts(prompt_files)
        engine = open_engine(base, params.generate, None, len(records))
        scores = judge_scores(engine, records, params.generate, prompts)
        engine.close()
        passed = [s is not None and s >= cfg.min_score for s in scores]
        write_records(out, [r for r, ok in zip(records, passed) if ok])
        write_records(rejected, [r for r, ok in zip(records, passed) if not ok])
        reasons = Counter("no_score" if s is None else "below_min_score" for s, ok in zip(scores, passed) if not ok)
        write_json(
            metrics,
            {
                "enabled": True,
                "in": len(records),
                "kept": sum(passed),
                "rejected": len(records) - sum(passed),
                "rejected_by_reason": dict(sorted(reasons.items())),
                "min_score": cfg.min_score,
                "scores": {str(k): v for k, v in sorted(Counter("none" if s is None else s for s in scores).items(), key=str)},
                "engine": engine.name,
                "engine_reason": engine.reason,
            },
        )


command = stage_command(
    run,
    "judge",
    "Optionally rate every pair 1-5 with the base model and set aside those below judge.min_score.",
    option("--base", required=True, help="prepared base model folder"),
    option("--dataset", required=True, help="the Cycle-Filt dataset"),
    output("--out", required=True, help="the pairs that passed (all of them when judge.enabled is false)"),
    output("--rejected", required=True, help="the pairs the judge set aside, for inspection"),
    PROMPTS,
    METRICS,
    TIMING,
)
