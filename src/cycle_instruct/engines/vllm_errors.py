"""A failure inside vLLM as one line that names the setting to change."""

import os
import re

from ..models import device


def explain_vllm_error(error: Exception, what, cfg) -> str:
    """One line for a failure inside vLLM: memory (on GPU or CPU) and a context longer than the model's
    name the settings that fix them; anything else says the model cannot run on vLLM."""
    text = _vllm_message(error)
    on_gpu = device() == "cuda"
    room = (
        f"generate.gpu_memory_utilization ({cfg.gpu_memory_utilization})"
        if on_gpu
        else f"VLLM_CPU_KVCACHE_SPACE ({os.environ.get('VLLM_CPU_KVCACHE_SPACE', '?')} GiB)"
    )
    if "out of memory" in text.lower() or type(error).__name__ == "OutOfMemoryError":
        return (
            f"vLLM ran out of {'GPU ' if on_gpu else ''}memory ({text}); lower {room}, "
            f"generate.max_model_len ({cfg.max_model_len}) or generate.batch_size ({cfg.batch_size})"
        )
    if "Engine core initialization failed" in text:  # vLLM's engine-core process died: it logged the reason above
        return (
            f"{what}: vLLM's engine process failed to start (vLLM's log above says why); if the reason is memory or the "
            f"KV cache, lower generate.max_model_len ({cfg.max_model_len}) or raise {room}; else set generate.engine: hf"
        )
    if "larger than the available KV cache memory" in text:  # vLLM: "... the estimated maximum model length is N."
        fits = re.search(r"estimated maximum model length is (\d+)", text)
        return (
            f"params.yaml: generate.max_model_len ({cfg.max_model_len}) does not fit vLLM's KV cache"
            f"{f' (at most {fits.group(1)} tokens fit)' if fits else ''}; lower generate.max_model_len or raise {room}"
        )
    if "less than requested memory for kv" in text:  # vLLM's CPU build: the cache asked for is more than is free
        free = re.search(r"\(([\d.]+)/[\d.]+ GiB\)", text)
        return (
            f"VLLM_CPU_KVCACHE_SPACE ({os.environ.get('VLLM_CPU_KVCACHE_SPACE')} GiB) is more memory than this machine has free"
            f"{f' ({free.group(1)} GiB)' if free else ''}; set it lower (a whole number of GiB; 2 is ours)"
        )
    if "greater than the derived max_model_len" in text:
        limit = re.search(r"max_position_embeddings=(\d+)", text)
        return (
            f"params.yaml: generate.max_model_len ({cfg.max_model_len}) is longer than {what} supports"
            f"{f' ({limit.group(1)} tokens)' if limit else ''}; lower it"
        )
    if "longer than the maximum model length" in text:  # a prompt (and its reply) over max_model_len: transformers fails too
        return (
            f"{what}: a prompt is too long for generate.max_model_len ({cfg.max_model_len}) ({text}); shorten the prompt "
            "template or the paragraphs (segment.max_chars), or raise generate.max_model_len up to the model's context"
        )
    return f"{what}: vLLM cannot run it ({text}); set generate.engine: hf to use transformers instead"


def _vllm_message(error: Exception) -> str:
    """The line of a vLLM error that says what is wrong: vLLM validates its config with pydantic,
    whose first line is only "1 validation error for VllmConfig"; the reason is in its first error."""
    if type(error).__name__ == "ValidationError" and error.errors():
        text = str(error.errors()[0].get("msg", "")).removeprefix("Value error, ")
    else:
        text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__
