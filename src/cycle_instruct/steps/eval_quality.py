"""Evaluation: quality of each method's dataset without any training.

Relevance of a pair = cosine of the embeddings of its instruction and its response. For
Cycle-Filt, the pairs the filter pruned are scored too: a useful filter prunes pairs that
are less relevant than the ones it keeps. With eval.judge the base model also rates each
pair from 1 to 5 (slow on a CPU; off by default).
"""

from pathlib import Path

from ..embedding import load_embedder
from ..engines import HFEngine
from ..evaluation import mean
from ..prompts import load_prompts
from ..quality import judge_scores, relevance
from ..records import read_records, timed, write_json
from . import METRICS, PROMPTS, TIMING, option, stage_command


def run(params, base, datasets, pruned_dir, prompt_files, metrics, timing=None):
    with timed(timing):
        prompts = load_prompts(prompt_files)
        embedder = load_embedder(params.model.embedder, params.model.allow_hub)
        judge = HFEngine(base) if params.eval.judge else None
        report = {}
        for path in sorted(Path(datasets).glob("*.jsonl")):
            records = read_records(path)
            if not records and not path.stem.startswith("cycle_filt_"):
                continue  # vanilla (0% SFT) is empty by design; a filter that kept nothing is reported, as 0 pairs
            scores = {"pairs": len(records), "relevance": mean(relevance(embedder, records))}
            if judge and records:
                scores["judge"] = mean(judge_scores(judge, records, params.generate, prompts, desc=f"judge {path.stem}"))
            if path.stem.startswith("cycle_filt_"):
                pruned = read_records(Path(pruned_dir) / path.stem.removeprefix("cycle_filt_") / "pruned.jsonl")
                scores["pruned_pairs"], scores["pruned_relevance"] = len(pruned), mean(relevance(embedder, pruned))
            report[path.stem] = scores
        write_json(metrics, report)


command = stage_command(
    run,
    "eval_quality",
    "Evaluation: relevance (and optionally a judge's rating) of every dataset's pairs.",
    option("--base", required=True, help="prepared base model folder (for the optional judge)"),
    option("--datasets", required=True, help="folder of <method>.jsonl datasets"),
    option("--pruned", "pruned_dir", required=True, help="folder of <iteration>/pruned.jsonl from the cycle filter"),
    PROMPTS,
    METRICS,
    TIMING,
)
