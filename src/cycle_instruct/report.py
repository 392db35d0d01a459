"""The evaluation report: the paper's comparison table in markdown, and its plots' data."""

from .bootstrap import aligned, paired_bootstrap

REPORT_COLUMNS = [
    ("train pairs", "train_pairs"),
    ("answer cos", "answer.cosine"),
    ("answer ROUGE-L", "answer.rouge_l"),
    ("question cos", "question.cosine"),
    ("question ROUGE-L", "question.rouge_l"),
]


def lookup(row: dict, dotted: str):
    for key in dotted.split("."):
        row = row.get(key) if isinstance(row, dict) else None
    return row


def fmt(value, error=None) -> str:
    text = "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
    return text if error is None else f"{text} ± {error:.3f}"


def report_lines(corpus: str, methods: list[str], rows: dict, quality: dict, chain: list[int]) -> list[str]:
    """The comparison table (like the paper's) and the filter's kept/pruned table, as markdown."""
    judged = any("judge" in q for q in quality.values() if isinstance(q, dict))
    header = [c for c, _ in REPORT_COLUMNS] + ["relevance"] + (["judge"] if judged else [])
    lines = [f"# Evaluation on `{corpus}`", "", "| method | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for m in methods:
        q = quality.get(m, {})
        cells = [fmt(lookup(rows[m], key), lookup(rows[m], key + "_sem")) for _, key in REPORT_COLUMNS]
        cells += [fmt(q.get("relevance"))] + ([fmt(q.get("judge"))] if judged else [])
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if any(lookup(r, "answer.cosine_sem") is not None for r in rows.values()):
        lines += [
            "",
            "± is the standard error of the mean over the held-out pairs; which gaps are real is tested below, paired "
            "(Paired comparisons).",
        ]
    lines += ["", "| Cycle-Filt | kept pairs | kept relevance | pruned pairs | pruned relevance |", "|---|---|---|---|---|"]
    for k in chain:
        q = quality.get(f"cycle_filt_{k}", {})
        lines.append(
            f"| iteration {k} | {fmt(q.get('pairs'))} | {fmt(q.get('relevance'))} | {fmt(q.get('pruned_pairs'))} | {fmt(q.get('pruned_relevance'))} |"
        )
    return lines


def iteration_trend(rows: dict, chain: list[int]) -> list[dict]:
    """Per iteration, Cycle-Inst and Cycle-Filt scores: the data of the trend plot."""
    trend = []
    for k in chain:
        for kind in ("cycle_inst", "cycle_filt"):
            if (r := rows.get(f"{kind}_{k}")) is not None:
                trend.append(
                    {
                        "iteration": k,
                        "method": kind,
                        "answer_cosine": lookup(r, "answer.cosine"),
                        "question_cosine": lookup(r, "question.cosine"),
                        "answer_rouge_l": lookup(r, "answer.rouge_l"),
                    }
                )
    return trend


SCORE_METRICS = [  # downstream's per-item scores (eval/data/scores/<method>.json), as the table names them
    ("answer cos", "answer.cosine"),
    ("answer ROUGE-L", "answer.rouge_l"),
    ("question cos", "question.cosine"),
    ("question ROUGE-L", "question.rouge_l"),
]


def benchmark_lines(methods: list[str], bench: dict) -> list[str]:
    """lm-eval's scores of every method's model, with lm-eval's standard errors."""
    columns = []
    for m in methods:
        for task, values in (bench.get(m) or {}).get("tasks", {}).items():
            for metric in values:
                if not metric.endswith("_stderr") and metric != "sample_len" and (task, metric) not in columns:
                    columns.append((task, metric))
    if not columns:
        return []
    lines = [
        "",
        "## Benchmarks (lm-evaluation-harness)",
        "",
        "| method | backend | " + " | ".join(f"{t} {m}" for t, m in columns) + " |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for m in methods:
        b = bench.get(m) or {}
        tasks = b.get("tasks", {})
        cells = [fmt(tasks.get(t, {}).get(k), tasks.get(t, {}).get(f"{k}_stderr")) for t, k in columns]
        model = "base + adapter" if b.get("adapter") else "base (untuned)"
        lines.append(f"| {m} | {b.get('backend', '-')}, {model} | " + " | ".join(cells) + " |")
    lines += ["", "± is lm-eval's standard error. `dvc --cd eval metrics diff` shows these scores between runs."]
    return lines


def per_item_scores(scores: dict | None, samples: dict | None) -> dict:
    """{metric label: (item ids, scores)} of one method: downstream's held-out scores and lm-eval's per-document ones."""
    out = {}
    for label, key in SCORE_METRICS:
        if scores and key in scores:
            out[label] = (scores["ids"], scores[key])
    for task, values in (samples or {}).items():
        for metric, vals in values.items():
            if metric != "doc_ids":
                out[f"{task} {metric}"] = (values["doc_ids"], vals)
    return out


def comparisons(methods: list[str], refs: list[str], items: dict, iters: int, seed: int) -> dict:
    """{reference: {method: {metric: paired bootstrap}}} for every method against every reference."""
    out = {}
    for ref in refs:
        out[ref] = {}
        for m in methods:
            if m == ref:
                continue
            out[ref][m] = {}
            for label, (ids, scores) in items.get(m, {}).items():
                if label in items.get(ref, {}):
                    a, b = aligned(ids, scores, *items[ref][label])
                    out[ref][m][label] = paired_bootstrap(a, b, iters, seed)
    return out


def comparison_lines(methods: list[str], refs: list[str], compared: dict, iters: int) -> list[str]:
    """A table per reference (difference and 95% interval, * where it excludes 0), then the ranking the data supports."""
    if not refs:
        return ["", "## Paired comparisons", "", "No reference method (eval.compare_to) is among eval.methods: nothing compared."]
    lines = [
        "",
        "## Paired comparisons",
        "",
        f"Each method minus the reference on the same test items, paired bootstrap ({iters} resamples of the items): "
        "the mean difference and its 95% interval; * marks an interval that excludes 0, a difference the test items "
        "support. Relevance and judge scores rate each method's own training pairs, not shared items, so they are not "
        "compared here.",
    ]
    for ref in refs:
        labels = list(dict.fromkeys(label for m in compared[ref].values() for label in m))
        lines += ["", f"vs `{ref}`:", "", "| method | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for m in methods:
            if m in compared[ref]:
                lines.append(f"| {m} | " + " | ".join(interval(compared[ref][m].get(label)) for label in labels) + " |")
    lines += ["", "### What the data supports", ""] + ranking_lines(methods, refs, compared)
    return lines


def interval(c: dict | None) -> str:
    if c is None:
        return "-"
    return f"{c['diff']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]" + (" *" if c["excludes_zero"] else "")


def ranking_lines(methods: list[str], refs: list[str], compared: dict) -> list[str]:
    """One sentence per reference and metric: which methods score above it, below it, or cannot be told apart from it."""
    lines = []
    for ref in refs:
        labels = list(dict.fromkeys(label for m in compared[ref].values() for label in m))
        for label in labels:
            above, below, same = [], [], []
            for m in methods:
                c = compared[ref].get(m, {}).get(label)
                if c is None:
                    continue
                (above if c["excludes_zero"] and c["diff"] > 0 else below if c["excludes_zero"] else same).append(
                    f"{m} ({c['diff']:+.3f})" if c["excludes_zero"] else m
                )
            parts = [f"above it: {', '.join(above)}" if above else "", f"below it: {', '.join(below)}" if below else ""]
            parts.append(f"not distinguishable from it on these items: {', '.join(same)}" if same else "")
            lines.append(f"- {label}, against `{ref}`: " + "; ".join(p for p in parts if p) + ".")
    return lines
