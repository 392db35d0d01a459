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
    allow_hub: bool  # offline by default: a name that is not a local path never reaches a model hub
    base: str
    embedder: str

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
    instruction: str
    context: str  # "" ignores context
    response: str
    text: str
    records: str  # .json files: the key whose list holds the records ({"data": [...]}); "" = top level


# What the pipelines write (dvc.yaml, eval/dvc.yaml; a test keeps this in step), and folders that are never a corpus:
# segment.input may be none of them, hold none of them, and (the outputs, and the virtual or secret ones) lie in none of them
PIPELINE_OUTPUTS = ("data/models", "data/segments", "data/reformatted", "data/iterations", "data/final", "data/judge", "data/export",
                    "metrics", "eval/data", "eval/metrics", "eval/plots", "eval/report.md", ".partial")
SYSTEM_FOLDERS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var")
SYSTEM_INSIDE = ("/boot", "/dev", "/etc", "/proc", "/sys")


def _not_system_or_outputs(value: str) -> str:
    """segment.input `/`, /etc or ~ would put system files (passwords, keys) into the data; data/ or metrics/ the pipeline's own output."""
    real = os.path.realpath(value)
    over = lambda folder: os.path.commonpath([real, folder]) in (real, folder)  # one holds the other
    if any(os.path.commonpath([real, f]) == real for f in (*SYSTEM_FOLDERS, os.path.expanduser("~"))) or any(over(f) for f in SYSTEM_INSIDE):
        raise ValueError("is a system folder or holds one, not a corpus (its files could hold passwords and keys); point it at your corpus's folder")
    hit = next((out for out in PIPELINE_OUTPUTS if over(os.path.realpath(out))), None)
    if hit:
        raise ValueError(f"overlaps the pipeline's outputs ({hit}), so the stages would read what they write; point it at your corpus, such as data/raw")
    return value


class SegmentParams(Section):
    input: Annotated[str, Field(min_length=1)]  # a file or a folder: DVC tracks it as the stage's dep, so no glob
    include: str | list[str]  # in a folder: glob(s) over paths relative to it
    follow_symlinks: bool = Field(description="read symlinked files of the input folder that lead out of it (false: skipped and counted)")
    format: Literal["auto", "text", "instructions", "dialogue"]
    markup: Literal["none", "rst", "markdown", "html"]  # of JSONL/JSON text fields (files: by suffix)
    question_rule: Literal["contains", "sentence"]
    fields: Fields
    question_share: Share
    seed: int
    on_bad_record: Literal["error", "skip"]
    scrub_private: bool
    max_chars: Positive
    long_paragraphs: Literal["split", "truncate"]
    min_chars: Annotated[int, Field(ge=0)]
    test_size: Annotated[float, Field(ge=0)]  # a count, or a share if below 1

    @field_validator("input")
    @classmethod
    def _file_or_folder(cls, v):
        parts = Path(v).parts
        wild = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
        if wild is not None and not Path(v).exists():
            folder, pattern = Path(*parts[:wild]), "/".join(parts[wild:])
            raise ValueError(f"a glob is not an input (DVC needs a file or a folder to track); set segment.input: {folder} and segment.include: '{pattern}'")
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
    enabled: bool
    on_reject: Literal["keep_raw", "drop"]
    max_new_tokens: Positive
    max_length_ratio: Annotated[float, Field(gt=0)]
    min_similarity: Annotated[float, Field(ge=0, le=1)]  # cosine of a rewrite with its source below this = drifted
    min_content_kept: Annotated[float, Field(ge=0, le=1)]  # a question rewrite keeping fewer of its source's content words = lost_content


class GenerateParams(Section):
    engine: Literal["auto", "vllm", "hf"]
    vllm_min_tokens: Annotated[int, Field(ge=0)]  # auto, base model: below this many prompts x max_new_tokens, transformers
    vllm_min_tokens_adapter: Annotated[int, Field(ge=0)]  # auto, with LoRA adapters: the same
    batch_size: Positive
    temperature: Annotated[float, Field(ge=0)]  # 0 is greedy
    top_k: Positive
    max_new_tokens: Positive
    seed: int
    max_copy_overlap: Annotated[float, Field(gt=0, le=1)]  # a pseudo-label this close to its source (ROUGE-L F1) is a copy
    min_specificity: Annotated[float, Field(ge=-2, le=2)]  # pseudo-question: own-answer cosine minus mean cosine with other answers, below this = generic
    max_model_len: Annotated[int, Field(ge=16)]
    tensor_parallel_size: Positive
    pipeline_parallel_size: Positive
    data_parallel_size: Positive
    distributed_backend: Literal["mp", "ray"]
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)]
    vllm_compile: Literal["auto"] | bool  # auto: on GPUs (vLLM's default), not on CPU (minutes of start-up)

    @model_validator(mode="after")
    def _fits_the_context(self):
        if self.max_new_tokens >= self.max_model_len:
            raise ValueError(f"generate.max_new_tokens ({self.max_new_tokens}) must be below generate.max_model_len ({self.max_model_len})")
        return self


class TrainParams(Section):
    init: Literal["fresh", "continue"]
    lora_r: Positive
    lora_alpha: Positive
    lora_dropout: Annotated[float, Field(ge=0, lt=1)]
    target_modules: str | list[str]
    lr: Annotated[float, Field(gt=0)]
    weight_decay: Annotated[float, Field(ge=0)]
    max_grad_norm: Annotated[float, Field(gt=0)]
    warmup_ratio: Share
    micro_batch: Positive
    effective_batch: Positive
    cutoff: Annotated[int, Field(ge=16)]
    epochs: Positive
    seed: int
    group_by_length: bool  # micro-batches of examples of about the same length: little padding
    gradient_checkpointing: Literal["auto"] | bool  # auto: on GPUs, off on CPU
    autocast: Literal["auto", "bf16", "off"]  # auto: bf16 on GPUs that support it
    num_processes: Positive  # > 1: the train stages run under accelerate launch (one process per GPU)

    @model_validator(mode="after")
    def _batches_fit(self):
        if self.effective_batch < self.micro_batch:
            raise ValueError(f"train.effective_batch ({self.effective_batch}) must be at least train.micro_batch ({self.micro_batch})")
        unit = self.micro_batch * self.num_processes  # the effective batch is global: every process takes whole micro-batches
        if self.effective_batch % unit:
            below, above = self.effective_batch // unit * unit, (self.effective_batch // unit + 1) * unit
            use = " or ".join(str(v) for v in (below, above) if v)
            raise ValueError(f"train.effective_batch ({self.effective_batch}) must be a multiple of train.micro_batch x train.num_processes "
                             f"({self.micro_batch} x {self.num_processes} = {unit}); use {use}")
        return self


class Iteration(Section):
    prev: Annotated[int, Field(ge=0)]


class PruneParams(Section):
    k: Positive
    min_cluster_size: Positive
    fraction: Fraction
    max_distance: Annotated[float, Field(gt=0, le=2)]  # 2 (the largest L2 distance between unit vectors) = off
    dedup: Literal["off", "minhash", "embedding"]
    dedup_threshold: Annotated[float, Field(gt=0, le=1)]  # minhash: Jaccard of word 3-grams; embedding: cosine
    seed: int
    full_kmeans_max: Annotated[int, Field(ge=0)]  # up to this many pairs: sklearn's full k-means; above: faiss

    @field_validator("dedup", mode="before")
    @classmethod
    def _unquoted_off(cls, v):
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false


EXPORT_FORMATS = ("messages", "sharegpt", "alpaca", "parquet")


class ExportParams(Section):
    formats: list[Literal[EXPORT_FORMATS]]
    license: Annotated[str, Field(min_length=1)]  # the source corpus's licence, as a Hugging Face licence id
    language: list[str]  # ISO 639-1 codes of the corpus, for the dataset card

    @field_validator("formats")
    @classmethod
    def _some_formats(cls, v):
        if not v or len(set(v)) != len(v):
            raise ValueError(f"give each format once, one or more of: {', '.join(EXPORT_FORMATS)}")
        return v


class JudgeParams(Section):
    enabled: bool  # off: the stage passes every pair through and loads no model
    min_score: Annotated[int, Field(ge=1, le=5)]  # pairs rated below it (or not rated) are set aside


class SeedSpec(Section):
    select: Literal["random", "cluster"]
    percent: Annotated[float, Field(gt=0, le=100)]


class EvalParams(Section):
    seed: int
    sft: dict[str, Percent]
    seeds: dict[str, SeedSpec]
    methods: list[str]
    judge: bool

    @field_validator("sft", "seeds", mode="before")
    @classmethod
    def _names(cls, v, info):
        return _safe_names(v, f"eval.{info.field_name}") if isinstance(v, dict) else v


class Params(Section):
    model: ModelParams
    segment: SegmentParams
    reformat: ReformatParams
    generate: GenerateParams
    train: TrainParams
    iterations: dict[str, Iteration]
    prune: PruneParams
    judge: JudgeParams
    export: ExportParams
    eval: EvalParams

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
        known = set(self.eval.sft) | set(self.eval.seeds) | {f"{kind}_{k}" for k in self.chain for kind in ("cycle_inst", "cycle_filt")}
        unknown = [m for m in self.eval.methods if m not in known]
        if unknown:
            raise UserError(f"{path}: eval.methods names {unknown}, which are neither in eval.sft, eval.seeds nor cycle_inst_k/cycle_filt_k of an iteration")

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
        raise ValueError(f"{orphans} are not reachable from 0 (a missing prev, or a cycle); each prev must name an earlier iteration")
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
        return f"{path}: {key} is missing; add it (README, Params, lists every key with its meaning)"
    if kind == "extra_forbidden":
        section = _key(loc[:-1])
        model = Params
        for part in loc[:-1]:
            field = model.model_fields.get(str(part)) if isinstance(model, type) else None
            model = field.annotation if field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) else None
            if model is None:
                break
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {section + '.' if section else ''}{close[0]}?" if close else f"known keys: {', '.join(known)}" if known else "remove it"
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
