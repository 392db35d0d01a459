"""The evaluation report: the paper's comparison table in markdown, and its plots' data."""

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
            "± is the standard error of the mean over the held-out pairs: a gap between two rows "
            "smaller than about twice it is within chance.",
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
