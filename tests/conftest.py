"""Shared fixtures: a tiny, randomly initialised chat model built offline in a second."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cycle_instruct.project import make_project, params_yaml, write_params  # noqa: F401  (tests import them from here)

ROOT = Path(__file__).resolve().parent.parent
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "What is the capital of France? Paris is the capital of France.",
    "How do plants make food? Plants use sunlight, water and carbon dioxide.",
    "Why is the sky blue? Sunlight scatters off molecules in the air.",
    "Here is an assistant's response from a conversation. Write the user message.",
    "Rewrite the text below as one self-contained, natural question.",
] * 20


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with a 300-token BPE vocabulary and a ChatML template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(
        CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|im_end|>")
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.5,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny_model")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def embedded_base(tmp_path_factory) -> Path:
    """The embedded SmolLM2-135M-Instruct, prepared once per session as our stages use it."""
    from cycle_instruct.models import prepare_base
    from cycle_instruct.params import EMBEDDED_BASE

    folder = tmp_path_factory.mktemp("embedded") / "base"
    prepare_base(EMBEDDED_BASE, folder)
    return folder


def run_stage(
    script: str, *args: str, cwd: Path, env: dict | None = None, hide: tuple[str, ...] = (), input: str | None = None
) -> subprocess.CompletedProcess:
    """Run a stage script the way dvc does: `python stages/<script> ...` in the project folder.
    `env`: variables to set; `hide`: packages the stage must find missing, as on a machine without them; `input`: its stdin."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    path = str(ROOT / "stages" / script)
    command = [sys.executable, path, *args]
    if hide:  # the same script, run after marking the packages absent (import fails, find_spec gives None)
        command = [
            sys.executable,
            "-c",
            f"import runpy, sys; sys.modules.update(dict.fromkeys({list(hide)!r})); "
            f"sys.argv = [{path!r}, *{list(args)!r}]; sys.path.insert(0, {str(ROOT / 'stages')!r}); runpy.run_path({path!r}, run_name='__main__')",
        ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, input=input)


def options(**values) -> list[str]:
    """Command-line options from keywords, as a stage takes them: options(questions_in="q.jsonl") -> ["--questions-in", "q.jsonl"]."""
    return [arg for name, value in values.items() for arg in (f"--{name.replace('_', '-')}", str(value))]


def segment_outputs(folder: str = "out") -> list[str]:
    """The segment stage's output options, its files in `folder` ("" for the folder it runs in)."""
    at = f"{folder}/" if folder else ""
    return options(
        questions=f"{at}q.jsonl", answers=f"{at}a.jsonl", gold=f"{at}g.jsonl", test=f"{at}t.jsonl", metrics=f"{at}m.json"
    )


def shipped_params(**overrides):
    """Typed params: the shipped params.yaml with values changed, validated like the file."""
    from cycle_instruct.params import parse_params

    return parse_params(params_yaml(overrides))


def dvc(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)


ALWAYS_RUNS = "fingerprint_models"  # always_changed: runs on every repro; models unchanged, nothing after it re-runs


def ran_stages(output: str) -> list[str]:
    """Stages that `dvc repro` ran (not restored from the run-cache), fingerprint_models apart: it runs every time."""
    names = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]
    return [name for name in names if name != ALWAYS_RUNS]


def reproduced_stages(output: str) -> list[str]:
    """Stages `dvc repro` brought up to date: ran, or restored from the run-cache (whichever a test order gives)."""
    cached = [line.split("'")[1] for line in output.splitlines() if "is cached - skipping run" in line]
    return ran_stages(output) + [name for name in cached if name != ALWAYS_RUNS]


def dvc_status(root) -> dict:
    """`dvc status --json` without fingerprint_models, which it always lists as 'always changed'."""
    status = dvc("status", "--json", cwd=root)
    assert status.returncode == 0, status.stderr[-2000:]
    return {stage: why for stage, why in json.loads(status.stdout).items() if (stage, why) != (ALWAYS_RUNS, ["always changed"])}


# tiny settings for end-to-end runs: every stage runs for real, on a handful of items
TINY = {
    "reformat": {"max_new_tokens": 32},
    "generate": {"batch_size": 8, "max_new_tokens": 24},
    "train": {"epochs": 1, "effective_batch": 4, "cutoff": 128},
    "prune": {"min_cluster_size": 4},
}


@pytest.fixture(scope="session")
def dvc_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dvc_cache")
