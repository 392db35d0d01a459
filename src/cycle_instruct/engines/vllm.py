"""The vLLM engine: all of a stage's batches in vLLM's scheduler at once, each adapter a LoRARequest.

`import vllm` here is the vLLM package (imports are absolute), not this module."""

import gc
import json
import os
from pathlib import Path

from ..errors import UserError
from ..models import device, has_adapter, load_tokenizer
from ..prompts import prompt_ids
from .base import Completion, Engine
from .vllm_errors import explain_vllm_error


class VLLMEngine(Engine):
    """One vLLM engine per stage; each adapter is a LoRARequest (no merging). A stage's batches
    all go to vLLM's scheduler at once, so continuous batching keeps every slot busy across
    batch boundaries (a batch is handed back, and checkpointed, once its last prompt ends)."""

    name = "vllm"
    reason = "asked for"

    def __init__(self, base_dir, cfg, max_lora_rank: int | None, dtype: str | None = None):
        """`max_lora_rank` None: the stage uses the base model only, so LoRA stays off (its
        kernels slow every request down, and on CPU they stop vLLM from compiling the model)."""
        on_gpu = device() == "cuda"
        os.environ.setdefault(
            "VLLM_LOGGING_LEVEL", "WARNING"
        )  # its INFO lines (config, start-up steps) would bury the stage's own
        if not on_gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB; vLLM's CPU build refuses to start without it
            # vLLM keeps a core for its scheduler by default: on a small machine that is half of it
            # (benchmarks/generation.py measured 1.45x over batched transformers with 0, 1.06x with 1)
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
            # the engine core in this process, not a second one: start-up 21.6 s instead of 40.5 s on 2 cores,
            # the same tokens/s (benchmarks/generation.py, rows vllm and mp); on GPUs vLLM's own process split stays
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            space = os.environ["VLLM_CPU_KVCACHE_SPACE"].strip()
            if not (
                space.isdecimal() and int(space) >= 1
            ):  # vLLM would say "invalid literal for int()", or for 0 name a GPU setting
                raise UserError(
                    f"VLLM_CPU_KVCACHE_SPACE={space}: vLLM's CPU build takes a whole number of GiB for its KV cache, "
                    "at least 1 (ours: 2); set it so, or unset it"
                )
        from vllm import LLM

        if not on_gpu and (cfg.tensor_parallel_size > 1 or cfg.pipeline_parallel_size > 1):
            raise UserError(
                f"params.yaml: generate.tensor_parallel_size ({cfg.tensor_parallel_size}) and pipeline_parallel_size "
                f"({cfg.pipeline_parallel_size}) must be 1 without a GPU; they split one model over GPUs"
            )
        kwargs = dict(
            model=str(base_dir),
            tokenizer=str(base_dir),
            max_model_len=cfg.max_model_len,
            seed=cfg.seed,
            dtype=dtype or ("bfloat16" if on_gpu else "float32"),  # CPU: fp32, where it agrees with transformers
            enforce_eager=not compiles(cfg),
            trust_remote_code=False,
        )  # never run Python shipped in a model folder (vLLM's default, said outright)
        if not on_gpu:  # vLLM's CPU runner cannot rewind a seeded request's generator after a chunk of a prompt
            # ("CPU Generator does not use offset"): prompts go in whole, so a step's token budget must hold the longest
            kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(4096, cfg.max_model_len))
        if max_lora_rank is not None:  # max_loras=2: embed reconstructs with both adapters of an iteration
            kwargs.update(enable_lora=True, max_lora_rank=served_lora_rank(max_lora_rank), max_loras=2)
        if on_gpu:
            kwargs.update(
                tensor_parallel_size=cfg.tensor_parallel_size,
                pipeline_parallel_size=cfg.pipeline_parallel_size,
                gpu_memory_utilization=cfg.gpu_memory_utilization,
                distributed_executor_backend=cfg.distributed_backend,
            )
        try:
            self.llm = LLM(**kwargs)
        except Exception as e:  # vLLM raises many kinds; each ends the stage with one line
            raise UserError(explain_vllm_error(e, base_dir, cfg)) from None
        self.base_dir, self.tokenizer = base_dir, load_tokenizer(base_dir)  # base_dir: the resume fingerprint hashes its files
        self.adapter_ids: dict[str, int] = {}
        self.max_lora_rank = max_lora_rank
        self.calls, self.owner = 0, {}  # request ids stay unique over the engine's life; owner: id -> (batch key, row)

    def _lora(self, adapter):
        if not has_adapter(adapter):
            return None
        if self.max_lora_rank is None:
            raise ValueError(f"{adapter}: this engine was opened for the base model only (max_lora_rank None)")
        from vllm.lora.request import LoRARequest

        rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 0)
        if rank > self.max_lora_rank:
            raise UserError(
                f"{adapter}: LoRA rank {rank} is above train.lora_r ({self.max_lora_rank}), the rank this stage's vLLM "
                "engine was opened for; retrain the adapter with train.lora_r, or raise train.lora_r"
            )
        key = str(Path(adapter).resolve())
        self.adapter_ids.setdefault(key, len(self.adapter_ids) + 1)
        return LoRARequest(Path(adapter).name or "adapter", self.adapter_ids[key], key)

    def _sampling(self, cfg, seed: int):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(
            temperature=cfg.temperature,
            top_k=cfg.top_k if cfg.temperature > 0 else -1,
            max_tokens=cfg.max_new_tokens,
            seed=seed,
            skip_special_tokens=False,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    def run(self, prompts: list[str], cfg, adapter=None, seed: int = 0) -> list[Completion]:
        return next(self.run_batches([(0, prompts, seed)], cfg, adapter))[1]

    def run_batches(self, batches, cfg, adapter=None):
        """Feed vLLM's scheduler enough batches to fill twice its max_num_seqs slots, top it up as
        batches finish, and yield each finished batch. Per-request seeds make the results those of
        one batch at a time (tests/test_engines.py)."""
        engine, lora = self.llm.llm_engine, self._lora(adapter)
        batches = list(batches)
        for key, prompts, _ in batches:
            if not prompts:
                yield key, []
        window = 2 * engine.vllm_config.scheduler_config.max_num_seqs
        todo, waiting, in_flight = iter([b for b in batches if b[1]]), {}, set()  # waiting: key -> [Completion | None]

        def submit():
            key, prompts, seed = next(todo)
            self.calls += 1
            waiting[key] = [None] * len(prompts)
            sampling = self._sampling(cfg, seed)
            for j, ids in enumerate([prompt_ids(self.tokenizer, p) for p in prompts]):
                request_id = f"{self.calls}:{j}"
                engine.add_request(request_id, {"prompt_token_ids": ids}, sampling, lora_request=lora)
                in_flight.add(request_id)
                self.owner[request_id] = (key, j)

        try:
            while True:
                try:
                    while len(in_flight) < window:
                        submit()
                except StopIteration:
                    pass
                if not in_flight:
                    return
                for out in engine.step():
                    if not out.finished:
                        continue
                    in_flight.discard(out.request_id)
                    key, j = self.owner.pop(out.request_id)
                    o = out.outputs[0]
                    waiting[key][j] = Completion(o.text.strip(), len(o.token_ids), o.finish_reason == "stop")
                    if all(c is not None for c in waiting[key]):
                        yield key, waiting.pop(key)
        except UserError:
            raise
        except Exception as e:
            raise UserError(explain_vllm_error(e, adapter or "the base model", cfg)) from None
        finally:
            if in_flight:  # stopped early (an error, or the caller broke off): nothing stays queued for the next call
                engine.abort_request(list(in_flight))
                for request_id in in_flight:
                    self.owner.pop(request_id, None)

    def close(self):
        """Shut vLLM's engine core down now (its own process on GPUs), so its memory is free for the next stage step."""
        self.llm.llm_engine.engine_core.shutdown()
        del self.llm
        gc.collect()


def served_lora_rank(rank: int) -> int:
    """The smallest LoRA rank vLLM serves that holds `rank`: vLLM takes only a few (1, 8, 16, 32, ...)
    and refuses any other max_lora_rank, so train.lora_r 4 or 12 runs in a slot of 8 or 16, padded."""
    try:
        from typing import get_args

        from vllm.config.lora import MaxLoRARanks

        served = sorted(get_args(MaxLoRARanks))
    except ImportError:  # another vLLM layout: the ranks of vLLM 0.32
        served = [1, 8, 16, 32, 64, 128, 256, 320, 512]
    fits = [r for r in served if r >= rank]
    if not fits:
        raise UserError(
            f"params.yaml: train.lora_r ({rank}) is above the largest LoRA rank vLLM serves ({served[-1]}); "
            "lower it, or set generate.engine: hf"
        )
    return fits[0]


def compiles(cfg) -> bool:
    """generate.vllm_compile: auto compiles on GPUs (vLLM's default: torch.compile, CUDA graphs), not on
    CPU, where compiling adds about 100 s of start-up per stage (benchmarks/generation.py, row compiled)."""
    return device() == "cuda" if cfg.vllm_compile == "auto" else cfg.vllm_compile
