"""Benchmark: are pseudo-answers grounded in the documents (relabel.context: retrieved) better than
answers from the question alone (none, the paper)? And reformat on against off.

On real FAQs (benchmarks/data/faqs/ and the Sphinx and docutils FAQs of tests/data/docs/; never the
Python or Debian FAQ), read by the segment stage as a user's corpus would be:

1. Pseudo-answers. The base model (iteration 1's M_QA) answers every real question, once from the question
   alone and once with the retrieved paragraphs, through the pipeline's own code (cycle.complete, the
   retrieve stage's index and budget). Each FAQ's gold answer, the paragraphs that follow a question
   heading up to the next question, is used only to score: the cosine of the generated answer to it, next
   to the cosine to another question's gold (shuffled baseline). Also: rejected generations by reason,
   the support score (support.py), and the time. 20 answers of each setting (seeded) are judged by hand
   in benchmarks/data/faqs/labels.jsonl: the share judged invented, and how well the support score finds
   them (precision and recall of `support < 0.5`, next to an embedding score: the answer's best cosine to
   a corpus paragraph).
2. The pipeline. `dvc repro prune` in temp projects on the gunicorn and pylint FAQs with relabel.context
   none and retrieved (reformat on), and retrieved with reformat off: kept and pruned pairs per side (pooled ranking, then per_side, then prune.min_support 0.5), median
   support of the kept generated answers, and the wall time. Then what reformat did to the real
   answers: how many it rewrote, and the rewrites that gained or lost a negation, printed to read
   (a small model's rewrite can invert an answer).

    python benchmarks/quality.py [--questions N] [--skip-pipeline] [--keep DIR] [--write-labels]
"""

import hashlib
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cycle_instruct.cycle import complete  # noqa: E402
from cycle_instruct.embedding import embed, load_embedder  # noqa: E402
from cycle_instruct.engines import open_engine  # noqa: E402
from cycle_instruct.models import prepare_base  # noqa: E402
from cycle_instruct.params import EMBEDDED_BASE, load_params  # noqa: E402
from cycle_instruct.project import make_project  # noqa: E402
from cycle_instruct.prompts import shipped_prompts  # noqa: E402
from cycle_instruct.records import read_records, write_records  # noqa: E402
from cycle_instruct.retrieval import ParagraphIndex, context_text, fill_budget  # noqa: E402
from cycle_instruct.steps import segment  # noqa: E402
from cycle_instruct.support import support_scores  # noqa: E402

from machine import describe  # noqa: E402

FAQS = ROOT / "benchmarks/data/faqs"
LABELS = FAQS / "labels.jsonl"
CORPUS = [*sorted(FAQS.glob("*/faq.*")), ROOT / "tests/data/docs/sphinx/faq.rst", ROOT / "tests/data/docs/docutils/FAQ.rst"]
PIPELINE_CORPUS = [FAQS / "gunicorn/faq.md", FAQS / "pylint/faq.rst"]
SETTINGS = ("none", "retrieved")
PIPELINES = {  # name: (relabel.context, reformat.enabled)
    "none, reformat on": ("none", True),
    "retrieved, reformat on": ("retrieved", True),
    "retrieved, reformat off": ("retrieved", False),
}
NEGATION = re.compile(r"\b(?:not|no|never|cannot|without|none)\b|n't\b", re.IGNORECASE)
SMALL = {  # the pipeline runs: one iteration, small enough for a 2-core CPU
    "iterations": {"1": {"prev": 0}},
    "generate": {"max_new_tokens": 96},
    "train": {"cutoff": 256},
    "prune": {"min_cluster_size": 8},
}
REPRUNE = {  # the same runs filtered again: label: prune params
    "prune.rank per_side": {"rank": "per_side"},
    "prune.min_support 0.5": {"min_support": 0.5},
}
SAMPLE = 20  # answers judged by hand per setting


def faq_segments(work: Path, files: list[Path]) -> tuple[list, list, dict]:
    """(questions, answer paragraphs, gold answer per question id), as the segment stage reads the FAQs."""
    raw = work / "raw"
    for f in files:
        (raw / f.parent.name).mkdir(parents=True, exist_ok=True)
        (raw / f.parent.name / f.name).write_text(f.read_text())
    params = load_params(ROOT / "params.yaml").but(segment={"input": str(raw)})
    out = work / "segments"
    segment.run(params, out / "q.jsonl", out / "a.jsonl", out / "g.jsonl", out / "t.jsonl", out / "m.json")
    questions, answers = read_records(out / "q.jsonl"), read_records(out / "a.jsonl")
    by_doc = defaultdict(list)
    for r in questions + answers:
        by_doc[r.source["doc"]].append(r)
    gold = {}
    for records in by_doc.values():
        records.sort(key=lambda r: r.source["paragraph"])
        for i, r in enumerate(records):
            if r.original != "instruction":
                continue
            following = []
            for nxt in records[i + 1 :]:
                if nxt.original == "instruction":
                    break
                following.append(nxt.response)
            if following:
                gold[r.id] = " ".join(following)[:1500]
    return [q for q in questions if q.id in gold], answers, gold


def answer_key(setting: str, record) -> str:
    """What a hand label belongs to: the setting, the question and the exact answer it judged."""
    return hashlib.sha256(f"{setting}\n{record.instruction}\n{record.response}".encode()).hexdigest()[:16]


def pseudo_answers(work: Path, n_questions: int, write_labels: bool) -> dict:
    params = load_params(ROOT / "params.yaml")
    questions, answers, gold = faq_segments(work, CORPUS)
    random.Random(0).shuffle(questions)
    questions = questions[:n_questions]
    embedder = load_embedder(params.model.embedder)
    index = ParagraphIndex(embedder, [a.id for a in answers], [a.response for a in answers])
    contexts = {}
    for q, found in zip(questions, index.nearest([q.instruction for q in questions], params.relabel.k)):
        chosen = fill_budget(found, index.texts, params.relabel.context_chars)
        contexts[q.id] = context_text([index.texts[p] for p, _ in chosen])
    base = work / "base"
    if not base.exists():
        prepare_base(EMBEDDED_BASE, base)
    engine = None
    if not all((work / f"{setting}.jsonl").exists() for setting in SETTINGS):
        engine = open_engine(base, params.generate, None, 10**6)  # the engine the stages would pick for a large run
    prompts = shipped_prompts("forward", "forward_grounded")
    labels = {row["key"]: row for row in map(json.loads, LABELS.read_text().splitlines())} if LABELS.exists() else {}
    results, to_label = {}, []
    for setting in SETTINGS:
        saved = work / f"{setting}.jsonl"
        if saved.exists():  # --keep DIR of an earlier run: score its answers again (with new labels)
            out, (stats, seconds) = read_records(saved), json.loads(saved.with_suffix(".json").read_text())
        else:
            start = time.perf_counter()
            # the answers the relabel stage would keep (rejected replies drop their question, counted by reason)
            out, stats = complete(
                engine, questions, params.generate, prompts, contexts=contexts if setting == "retrieved" else None
            )
            seconds = time.perf_counter() - start
            write_records(saved, out)
            saved.with_suffix(".json").write_text(json.dumps([stats, seconds]))
        vectors, gold_vectors = embed(embedder, [r.response for r in out]), embed(embedder, [gold[r.id] for r in out])
        cosine, shuffled = (vectors * gold_vectors).sum(1), (vectors * np.roll(gold_vectors, 1, axis=0)).sum(1)
        support = support_scores(index, [r.response for r in out])
        nearest_cosine = index.search(vectors, 1)[0][:, 0]
        sample = random.Random(1).sample(range(len(out)), min(SAMPLE, len(out)))
        for i in sample:
            key = answer_key(setting, out[i])
            row = {"key": key, "setting": setting, "question": out[i].instruction, "answer": out[i].response}
            to_label.append(labels.get(key, {**row, "gold": gold[out[i].id][:600], "invented": None, "note": ""}))
        results[setting] = {
            "questions": len(questions),
            "accepted": len(out),
            "seconds": seconds,
            "rejected_by_reason": stats["rejected_by_reason"],
            "cosine_to_gold": float(cosine.mean()),
            "cosine_to_shuffled_gold": float(shuffled.mean()),
            "support_median": float(np.median(support)),
            "judged": [
                (labels[k]["invented"], support[i], float(nearest_cosine[i]))
                for i in sample
                if (k := answer_key(setting, out[i])) in labels and labels[k]["invented"] is not None
            ],
        }
    if engine:
        engine.close()
    if write_labels:  # the sampled answers, judged ones with their labels, new ones with invented null
        LABELS.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in to_label))
        print(f"{LABELS}: {len(to_label)} sampled answers; judge those with invented null", flush=True)
    return results


def precision_recall(judged: list, score_index: int, threshold: float) -> tuple[float, float]:
    """Flagging `score < threshold` as invented, against the hand labels."""
    flagged = [inv for inv, *scores in judged if scores[score_index - 1] < threshold]
    invented = sum(inv for inv, *_ in judged)
    precision = sum(flagged) / len(flagged) if flagged else float("nan")
    recall = sum(flagged) / invented if invented else float("nan")
    return precision, recall


def pipeline(work: Path) -> dict:
    corpus = {f"data/raw/{f.parent.name}/{f.name}": f for f in PIPELINE_CORPUS}
    results = {}
    for name, (context, reformat) in PIPELINES.items():
        folder = work / name.replace(", ", "-").replace(" ", "_")
        timing = folder / "wall_seconds.json"
        if not timing.exists():  # --keep DIR of an earlier run: measure it again
            overrides = {**SMALL, "relabel": {"context": context}, "reformat": {"enabled": reformat}}
            project = make_project(folder, overrides, work / "dvc-cache", corpus)
            start = time.perf_counter()
            run = subprocess.run(["dvc", "repro", "prune"], cwd=project, capture_output=True, text=True)
            if run.returncode:
                sys.exit(f"{name}: dvc repro failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
            timing.write_text(json.dumps(time.perf_counter() - start))
        prune = json.loads((folder / "metrics/prune.json").read_text())
        results[name] = {"seconds": json.loads(timing.read_text()), "by_side": prune["by_side"], "project": folder}
        results[name]["filters"] = {"pooled": prune["by_side"]}
        results[name]["filters"].update({label: reprune(folder, prune) for label, prune in REPRUNE.items()})
        print(f"{name}: {results[name]['seconds']:.0f} s", flush=True)
    return results


def reformat_rewrites(project: Path) -> dict:
    """What reformat did to the real answers of a run with reformat on: rewrites kept, raw text kept
    (rejected rewrites), and the kept rewrites whose negation differs from their paragraph's (a "not"
    gained or lost: the cheap sign of an inverted meaning), with those rewrites to read."""
    answers = read_records(project / "data/reformatted/answers.jsonl")
    rewritten = [r for r in answers if r.raw is not None and r.response != r.raw]
    flipped = [r for r in rewritten if bool(NEGATION.search(r.raw)) != bool(NEGATION.search(r.response))]
    return {"answers": len(answers), "rewritten": len(rewritten), "negation_changed": flipped}


def reprune(project: Path, prune: dict) -> dict:
    """The same run's filter with other prune params (only the prune stage runs again), then back as it was."""
    import yaml

    params_file = project / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["prune"].update(prune)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        run = subprocess.run(["dvc", "repro", "prune"], cwd=project, capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"{project}: prune with {prune} failed:\n{run.stderr[-2000:]}")
        return json.loads((project / "metrics/prune.json").read_text())["by_side"]
    finally:
        params_file.write_text(original)
        subprocess.run(["dvc", "repro", "prune"], cwd=project, capture_output=True, text=True)


@click.command()
@click.option("--questions", "n_questions", default=120, show_default=True, help="real questions answered per setting")
@click.option("--skip-pipeline", is_flag=True, help="only the pseudo-answers (part 1)")
@click.option("--write-labels", is_flag=True, help=f"write the sampled answers to {LABELS.relative_to(ROOT)} to judge")
@click.option("--keep", type=click.Path(file_okay=False), help="folder to keep the work in (default: a temp folder)")
def main(n_questions, skip_pipeline, write_labels, keep):
    print(describe(), flush=True)
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-grounding-"))
    work.mkdir(parents=True, exist_ok=True)
    answers = pseudo_answers(work / "answers", n_questions, write_labels)
    none, grounded = answers["none"], answers["retrieved"]
    print(
        f"\nPseudo-answers of the base model to {none['questions']} real FAQ questions ({', '.join(str(f.relative_to(ROOT)) for f in CORPUS)})\n"
    )
    print("| | none (the paper) | retrieved |\n|---|---|---|")
    row = lambda label, key, fmt="{:.3f}": print(f"| {label} | {fmt.format(none[key])} | {fmt.format(grounded[key])} |")  # noqa: E731
    row("cosine to the gold answer (mean)", "cosine_to_gold")
    row("cosine to another question's gold (shuffled baseline)", "cosine_to_shuffled_gold")
    row("answers accepted by our checks", "accepted", "{}")
    print(f"| rejected by reason | {none['rejected_by_reason']} | {grounded['rejected_by_reason']} |")
    row("median support of the accepted answers", "support_median")
    for s in (none, grounded):
        s["invented"] = f"{sum(j[0] for j in s['judged'])}/{len(s['judged'])}" if s["judged"] else "not judged"
    row("judged invented (hand labels, sample)", "invented", "{}")
    row("generation time (s)", "seconds", "{:.0f}")
    print(
        f"\ntime ratio retrieved / none: {grounded['seconds'] / none['seconds']:.2f}x; cosine gain: {grounded['cosine_to_gold'] - none['cosine_to_gold']:+.3f}"
    )
    judged = none["judged"] + grounded["judged"]
    if judged:
        print(f"\nThe support score against {len(judged)} hand labels ({sum(j[0] for j in judged)} invented):\n")
        print("| flag as invented | precision | recall |\n|---|---|---|")
        for label, i, t in (
            *((f"support < {t}", 1, t) for t in (0.5, 0.6, 0.7)),
            *((f"best paragraph cosine < {t}", 2, t) for t in (0.5, 0.6, 0.9)),
        ):
            p, r = precision_recall(judged, i, t)
            print(f"| {label} | {p:.2f} | {r:.2f} |")
        for invented, name in ((False, "grounded"), (True, "invented")):
            values = sorted(j[1] for j in judged if j[0] == invented)
            print(f"support of the {name} answers: {', '.join(f'{v:.2f}' for v in values)}")
    if skip_pipeline:
        return
    runs = pipeline(work / "pipeline")
    print(
        f"\nThe pipeline (`dvc repro prune`) on {', '.join(str(f.relative_to(ROOT)) for f in PIPELINE_CORPUS)}, settings {json.dumps(SMALL)}\n"
    )
    print(
        "| relabel.context, reformat; filter | real question: kept / in | real answer: kept / in | pruned by reason (question; answer) | median support of kept generated answers | wall time |"
    )
    print("|---|---|---|---|---|---|")
    why = lambda m: {k: v for k, v in m["pruned_by_reason"].items() if v}  # noqa: E731
    for name, r in runs.items():
        for label, by_side in r["filters"].items():
            q, a = by_side["real_question"], by_side["real_answer"]
            support = q["support_kept"]
            print(
                f"| {name}; {label} | {q['kept']} / {q['in']} | {a['kept']} / {a['in']} | {why(q)}; {why(a)} | {support.get('median')} ({support.get('below_0.5')} below 0.5) | {r['seconds']:.0f} s |"
            )
    reformat = reformat_rewrites(next(iter(runs.values()))["project"])
    print(
        f"\nreformat on the real answers: {reformat['rewritten']} of {reformat['answers']} rewritten; "
        f"{len(reformat['negation_changed'])} rewrites gained or lost a negation:"
    )
    for r in reformat["negation_changed"]:
        print(f"\n- {r.id}\n  paragraph: {r.raw!r}\n  rewrite:   {r.response!r}")


if __name__ == "__main__":
    main()
