"""Benchmarks through lm-evaluation-harness: the local held-out task, the backend, and results as metrics.

The held-out task asks each held-out question with its gold answer and up to three answers of
other held-out pairs as choices (each cut to its first 64 words), scored by log-likelihood (lm-eval's `multiple_choice`): a model
tuned on good pairs should prefer the answer that belongs to the question. It needs no hub and
no judge, so it runs offline on CPU.
"""

import random

import yaml

from .records import Record

HELDOUT_TASK = "cycle_heldout"
CHOICES = 4
CHOICE_WORDS = 64  # each choice's first words: what tells answers apart, at a fraction of the cost of whole answers


def heldout_rows(test: list[Record], seed: int) -> list[dict]:
    """One multiple-choice document per held-out pair: its question, the gold answer among others' answers."""
    rows = []
    rng = random.Random(seed)
    answers = [" ".join(t.response.split()[:CHOICE_WORDS]) for t in test]
    for i, pair in enumerate(test):
        others = [a for j, a in enumerate(answers) if j != i and a != answers[i]]
        choices = rng.sample(others, min(CHOICES - 1, len(others))) + [answers[i]]
        rng.shuffle(choices)
        rows.append({"id": pair.id, "question": pair.instruction, "choices": choices, "gold": choices.index(answers[i])})
    return rows


def heldout_yaml(data_file: str) -> str:
    """lm-eval's task config of the held-out task, reading `data_file` (a path from the repo root, where stages run)."""
    config = {
        "task": HELDOUT_TASK,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data_file}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{question}}",
        "doc_to_choice": "choices",
        "doc_to_target": "gold",
        "target_delimiter": "\n",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
        "metadata": {"version": 1.0},
    }
    return yaml.safe_dump(config, sort_keys=False)


def backend(engine: str, cuda: bool, vllm_installed: bool) -> str:
    """lm-eval's vLLM backend when the pipeline's engine is vLLM (auto: on a GPU with vLLM installed), else its HF one."""
    return "vllm" if engine == "vllm" or (engine == "auto" and cuda and vllm_installed) else "hf"


def model_args(kind: str, base: str, adapter: str | None, generate, lora_r: int, cuda: bool) -> dict:
    """lm-eval's model_args: the base model plus the method's LoRA adapter (peft= for HF, a LoRA request for vLLM)."""
    if kind == "vllm":
        args = {
            "pretrained": base,
            "tensor_parallel_size": generate.tensor_parallel_size,
            "gpu_memory_utilization": generate.gpu_memory_utilization,
            "max_model_len": generate.max_model_len,
            "seed": generate.seed,
        }
        if adapter:
            ranks = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for max_lora_rank
            args.update(lora_local_path=adapter, max_lora_rank=next((r for r in ranks if r >= lora_r), lora_r))
        return args
    args = {"pretrained": base, "device": "cuda" if cuda else "cpu", "dtype": "auto" if cuda else "float32"}
    if adapter:
        args["peft"] = adapter
    return args


def metric_name(key: str) -> str:
    """lm-eval's `acc,none` as `acc`; a filtered metric keeps its filter (`exact_match,strict-match` -> `exact_match/strict-match`)."""
    metric, _, filt = key.partition(",")
    return metric if filt in ("", "none") else f"{metric}/{filt}"


def task_results(results: dict) -> dict:
    """{task: {metric: value, metric_stderr: value}} of lm-eval's results (tasks and groups), numbers only."""
    out = {}
    for task, values in results.get("results", {}).items():
        row = {}
        for key, value in values.items():
            if key == "alias" or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            row[metric_name(key)] = round(float(value), 4)
        out[task] = row
    return out


def sample_scores(samples: dict) -> dict:
    """{task: {metric: [score of each document, by doc_id]}} from lm-eval's logged samples, for paired comparisons."""
    out = {}
    for task, rows in (samples or {}).items():
        rows = sorted(rows, key=lambda r: r["doc_id"])
        metrics = [m for m in rows[0].get("metrics", []) if all(isinstance(r.get(m), (int, float)) for r in rows)] if rows else []
        out[task] = {"doc_ids": [r["doc_id"] for r in rows], **{m: [float(r[m]) for r in rows] for m in metrics}}
    return out
