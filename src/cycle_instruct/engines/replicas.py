"""Data parallelism: generate.data_parallel_size copies of one engine, each in its own process on its own GPUs."""

import os
from contextlib import closing

from ..errors import UserError
from ..models import load_tokenizer
from .base import Completion, Engine
from .hf import HFEngine
from .vllm import VLLMEngine


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
            raise UserError(
                "a generation replica died (killed, or out of memory); lower generate.batch_size or "
                "generate.data_parallel_size, and check the machine's memory"
            ) from None
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
        conn.send(
            ("error", f"generation replica on GPUs {devices}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        )
    finally:
        if engine is not None:
            engine.close()


def replica_devices(cfg) -> list[list[int]]:
    """The GPUs of each data-parallel replica: tensor_parallel_size x pipeline_parallel_size each."""
    import torch

    per_replica = cfg.tensor_parallel_size * cfg.pipeline_parallel_size
    if not torch.cuda.is_available():
        raise UserError(
            f"params.yaml: generate.data_parallel_size ({cfg.data_parallel_size}) must be 1 without a GPU; "
            "it runs one model replica per GPU (group)"
        )
    if cfg.distributed_backend == "ray":
        raise UserError(
            "params.yaml: generate.data_parallel_size above 1 runs replicas on this machine (mp); with "
            "distributed_backend: ray, spread one model over the cluster with tensor/pipeline_parallel_size"
        )
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = [int(g) for g in visible.split(",") if g.strip()] if visible else list(range(torch.cuda.device_count()))
    need = cfg.data_parallel_size * per_replica
    if len(gpus) < need:
        raise UserError(
            f"params.yaml: generate.data_parallel_size x tensor_parallel_size x pipeline_parallel_size = {need} GPUs, "
            f"but this machine shows {len(gpus)}; lower them"
        )
    return [gpus[r * per_replica : (r + 1) * per_replica] for r in range(cfg.data_parallel_size)]
