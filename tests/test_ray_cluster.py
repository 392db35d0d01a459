"""generate.cluster: ray, for real: a Ray head and a second Ray node on this host (1 CPU each), the
relabel stage run across them on the transformers engine, and the second node's raylet killed mid-stage.

The cluster is started once for the module (Ray takes seconds to start on 2 cores) with `ray start
--block` in process groups of their own, so teardown ends exactly the processes it started.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cycle_instruct.records import Record, read_records, write_records

from conftest import ROOT, run_stage, write_params

ray = pytest.importorskip("ray")  # the extra `ray`: make test installs it
pytestmark = pytest.mark.slow  # a Ray cluster and model actors: not in make unit

QUESTIONS = [
    "What is DVC?",
    "How do plants make food?",
    "Why is the sky blue?",
    "What is the capital of France?",
]
SETTINGS = {"generate": {"engine": "hf", "batch_size": 1, "max_new_tokens": 8}}
# Ray notices a dead node after health_check_period_ms x health_check_failure_threshold (default 3 s x 5)
FAST_DEATH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_cpus(address: str, cpus: int, timeout: float = 120):
    """Block until the cluster shows `cpus` CPUs (both nodes joined), as a fresh driver sees it."""
    code = (
        "import ray, sys, time; ray.init(address=sys.argv[1], logging_level='ERROR', include_dashboard=False)\n"
        "end = time.time() + float(sys.argv[3])\n"
        "while ray.cluster_resources().get('CPU', 0) < float(sys.argv[2]) and time.time() < end: time.sleep(0.5)\n"
        "sys.exit(ray.cluster_resources().get('CPU', 0) < float(sys.argv[2]))"
    )
    done = subprocess.run([sys.executable, "-c", code, address, str(cpus), str(timeout)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


class Cluster:
    def __init__(self):
        self.temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes = []
        env = {**os.environ, **FAST_DEATH}
        common = ["--num-cpus", "1", "--temp-dir", self.temp, "--object-store-memory", str(80 * 2**20), "--disable-usage-stats"]
        head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
        head += ["--ray-client-server-port", str(_free_port())]
        for extra in (head, ["--address", self.address]):
            ports = ["--dashboard-agent-listen-port", str(_free_port()), "--metrics-export-port", str(_free_port())]
            ports += ["--node-manager-port", str(_free_port())]
            command = ["ray", "start", "--block", *extra, *common, *ports]
            log = open(Path(self.temp) / f"node{len(self.nodes)}.log", "w")
            self.nodes.append((subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True), ports[-1]))
            if extra is head:
                _wait_for_port(self.port)
        _wait_for_cpus(self.address, 2)

    def kill_raylet(self, node: int):
        """SIGKILL the raylet of node `node` (found by its node-manager port), as when that machine dies."""
        group, port = os.getpgid(self.nodes[node][0].pid), self.nodes[node][1]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if os.getpgid(int(pid)) == group and "raylet" in cmdline and f"--node_manager_port={port}" in cmdline:
                    os.kill(int(pid), signal.SIGKILL)
                    return
            except (OSError, ProcessLookupError):
                continue
        raise AssertionError(f"no raylet of node {node} found")

    def stop(self):
        for proc, _ in reversed(self.nodes):  # each node's process group: its `ray start`, GCS, raylet, workers
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(self.temp, ignore_errors=True)


def _wait_for_port(port: int, timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def cluster():
    started = Cluster()
    try:
        yield started
    finally:
        started.stop()


def _relabel(folder: Path, base, cluster: str, env=None, background=False, write_only=False):
    """Iteration 1's relabel_answers stage (the base model) on QUESTIONS, as dvc runs it."""
    folder.mkdir(parents=True, exist_ok=True)
    actors = 2 if cluster == "ray" else 1  # one machine without a GPU runs one engine
    write_params(folder, {"generate": {**SETTINGS["generate"], "cluster": cluster, "data_parallel_size": actors}})
    write_records(
        folder / "questions.jsonl",
        [Record(id=f"q{i:06d}", original="instruction", instruction=q) for i, q in enumerate(QUESTIONS)],
    )
    (folder / "it0").mkdir(exist_ok=True)
    args = ["--iteration", "1", "--base", str(base), "--adapter", "it0", "--records", "questions.jsonl", "--out", "answers.jsonl"]
    args += ["--prompts", str(ROOT / "prompts" / "forward.txt"), "--metrics", "m.json"]
    if write_only:  # the params and records written, the command line given back
        return args
    if not background:
        return run_stage("relabel.py", *args, cwd=folder, env=env)
    command = [sys.executable, str(ROOT / "stages" / "relabel.py"), *args]
    return subprocess.Popen(
        command,
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def one_machine(embedded_base, tmp_path_factory):
    """The same stage's recipe with generate.cluster: none, in this process (no second start-up), its output as bytes."""
    from cycle_instruct.params import load_params
    from cycle_instruct.steps import relabel

    folder = tmp_path_factory.mktemp("one_machine")
    args = _relabel(folder, embedded_base, "none", write_only=True)
    options = dict(zip(args[::2], args[1::2]))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        relabel.run(load_params(), 1, options["--base"], options["--adapter"], options["--records"], options["--out"],
                    [options["--prompts"]], options["--metrics"])  # fmt: skip
    return (folder / "answers.jsonl").read_bytes(), json.loads((folder / "m.json").read_text())


def test_an_unreachable_ray_address_is_one_line(embedded_base, tmp_path):
    closed = f"127.0.0.1:{_free_port()}"
    run = _relabel(tmp_path, embedded_base, "ray", env={"RAY_ADDRESS": closed})
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"RAY_ADDRESS={closed}" in errors[0] and "generate.cluster" in errors[0], run.stderr[-3000:]
    assert not (tmp_path / "answers.jsonl").exists()


def test_embeddings_spread_over_the_cluster_equal_one_machine_and_vllm_without_gpus_is_one_line(cluster, monkeypatch, tmp_path):
    """The embed stage's chunks on two embedder actors: the same .npy bytes and distances as one process.
    And vLLM split over GPUs on this cluster of CPUs: one line, before any actor starts."""
    from test_embedding import faq_pairs

    from cycle_instruct.embedding import load_embedder
    from cycle_instruct.engines.ray_cluster import actor_resources, connect, embedder_pool
    from cycle_instruct.errors import UserError
    from cycle_instruct.steps.embed import embed_dataset

    from conftest import shipped_params

    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    pairs = faq_pairs()
    here = embed_dataset(load_embedder("all-MiniLM-L6-v2"), pairs, tmp_path / "here.npy", chunk=5)
    connect()
    try:
        pool = embedder_pool("all-MiniLM-L6-v2", False, 2)
        try:
            spread = embed_dataset(None, faq_pairs(), tmp_path / "spread.npy", chunk=5, pool=pool)
        finally:
            pool.close()
        assert spread == here
        assert (tmp_path / "spread.npy").read_bytes() == (tmp_path / "here.npy").read_bytes()
        cfg = shipped_params(generate={"engine": "vllm", "tensor_parallel_size": 2, "cluster": "ray"}).generate
        assert actor_resources("hf", cfg) == {"num_cpus": 1}
        with pytest.raises(UserError, match=f"RAY_ADDRESS={cluster.address}: the Ray cluster has no GPU, and vLLM"):
            actor_resources("vllm", cfg)
    finally:
        ray.shutdown()


def test_relabel_across_two_ray_nodes_equals_one_machine(cluster, one_machine, embedded_base, tmp_path):
    run = _relabel(tmp_path, embedded_base, "ray", env={"RAY_ADDRESS": cluster.address})
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "answers.jsonl").read_bytes() == one_machine[0]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics.pop("engine_reason").endswith(f"; 2 Ray actors at {cluster.address}")
    assert metrics == {k: v for k, v in one_machine[1].items() if k != "engine_reason"}


def test_a_node_killed_mid_stage_costs_only_its_unfinished_batches(cluster, one_machine, embedded_base, tmp_path):
    """The second node's raylet dies after the first batch is checkpointed: the stage finishes on the
    head's actor, every record exactly once, each batch checkpointed once, the output that of one machine."""
    proc = _relabel(tmp_path, embedded_base, "ray", env={"RAY_ADDRESS": cluster.address}, background=True)
    partial = tmp_path / ".partial" / "answers.jsonl.partial.jsonl"
    seen, killed = [], False

    def watch():  # every state of the checkpoint file until the stage removes it
        while proc.poll() is None:
            if partial.exists():
                seen.append(partial.read_text(encoding="utf-8"))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        deadline = time.monotonic() + 240
        while not killed and proc.poll() is None and time.monotonic() < deadline:
            if partial.exists() and len(partial.read_text(encoding="utf-8").splitlines()) >= 2:  # header + a batch
                cluster.kill_raylet(1)
                killed = True
            time.sleep(0.1)
        output, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.join()
    assert killed, output[-3000:]
    assert proc.returncode == 0, output[-3000:]
    assert "lost a Ray actor" in output, output[-3000:]
    ids = [r.id for r in read_records(tmp_path / "answers.jsonl")]
    assert sorted(ids) == [f"q{i:06d}" for i in range(len(QUESTIONS))]  # every record, once
    for state in seen:
        batches = [json.loads(line)["batch"] for line in state.splitlines()[1:] if line.endswith("}")]
        assert len(batches) == len(set(batches)), state
    assert (tmp_path / "answers.jsonl").read_bytes() == one_machine[0]
