"""Benchmark: the run's view (cycle-instruct view, Datasette on the view stage's database) at 1M pairs.

Synthesizes a run of --pairs pairs the way the pipeline leaves it after Cycle-Filt: the embed
stage's dataset (words drawn from a 5,000-word vocabulary, Zipf-distributed, both sides, a
reconstruction and a distance each, 20 source documents) and its embeddings, then runs the real
prune recipe (steps.prune.run, the shipped params) for cycle_filt.jsonl, pruned.jsonl and
metrics/prune.json. Then it builds the view's database with the view stage's code and times,
through Datasette's own ASGI client (the HTML pages a browser gets, every facet computed):

- open: a fresh Datasette on the database, its front page (charts), then the pairs table;
- facet filter: the pairs of one pruning reason (5% of them), with the page's facets (status, reason,
  iteration, side, document) counted over them;
- search: full-text search (SQLite FTS5) for a word in 1% of the pairs, one in 10%, and the known pair's planted word;
- sort: every pair sorted by distance, worst first.

Each request's median of --repeat runs (after the cold open), in seconds, with the issue's targets
(opens in seconds: 5 s; filters in under a second) as ratios: time / target.

    python benchmarks/view.py [--pairs 1000000] [--repeat 3] [--dim 16] [--keep DIR]

--keep DIR keeps the synthesized run and the database; run again with the same DIR, it rebuilds the
database from the kept run (no new synthesis).
"""

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle_instruct.params import load_params  # noqa: E402
from cycle_instruct.steps import prune  # noqa: E402
from cycle_instruct.view import build, datasette  # noqa: E402

from machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KNOWN = "zyxwvutsrq"  # a word only the known pair has
TARGETS = {
    "open": 5.0,
    "facet filter": 1.0,
    "search, 1% of pairs": 1.0,
    "search, 10% of pairs": 1.0,
    "search known pair": 1.0,
    "sort by distance": 1.0,
}


def synthesize(folder: Path, pairs: int, dim: int, seed: int = 0) -> None:
    """The embed stage's outputs for `pairs` pairs, then the real prune recipe on them."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i:04d}" for i in range(5000)])
    weights = 1 / np.arange(1, 5001)
    weights /= weights.sum()
    final = folder / "data/final"
    final.mkdir(parents=True)
    words = rng.choice(vocab, size=(pairs, 40), p=weights)
    distance = np.round(rng.gamma(4, 0.15, pairs), 5)
    missing = rng.random(pairs) < 0.01  # rejected reconstructions: no distance
    with open(final / "cycle_inst.jsonl", "w", encoding="utf-8") as f:
        for i in range(pairs):
            question = " ".join(words[i, :8]) + "?"
            answer = " ".join(words[i, 8:36]) + "."
            original = "instruction" if i % 2 == 0 else "response"
            rec = {
                "id": f"{'q' if i % 2 == 0 else 'a'}{i:07d}",
                "original": original,
                "instruction": question + (f" {KNOWN}" if i == pairs // 2 else ""),
                "response": answer,
                "iteration": 1,
                "source": {"doc": f"data/raw/doc_{i % 20:02d}.txt", "paragraph": i // 20},
                "raw": question if original == "instruction" else answer,
                "reconstruction": None if missing[i] else " ".join(words[i, 28:36]) + "?",
                "distance": None if missing[i] else float(distance[i]),
            }
            f.write(json.dumps(rec) + "\n")
    np.save(final / "embeddings.npy", rng.standard_normal((pairs, dim)).astype(np.float32))
    (folder / "metrics").mkdir()
    prune.run(
        load_params(ROOT / "params.yaml"),
        final / "cycle_inst.jsonl",
        final / "embeddings.npy",
        final / "cycle_filt.jsonl",
        final / "pruned.jsonl",
        folder / "metrics/prune.json",
    )


async def timed_get(ds, path: str) -> float:
    start = time.perf_counter()
    response = await ds.client.get(path)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return elapsed


async def measure(db: Path, reason: str, repeat: int) -> dict:
    requests = {
        "facet filter": f"/run/pairs?reason={reason}",
        "search, 1% of pairs": "/run/pairs?_search=w0400",
        "search, 10% of pairs": "/run/pairs?_search=w0042",
        "search known pair": f"/run/pairs?_search={KNOWN}",
        "sort by distance": "/run/pairs?_sort_desc=distance",
    }
    start = time.perf_counter()
    ds = datasette(db)
    await ds.invoke_startup()
    await timed_get(ds, "/")
    await timed_get(ds, "/run/pairs")
    results = {"open": [time.perf_counter() - start]}
    for _ in range(repeat - 1):
        start = time.perf_counter()
        ds = datasette(db)
        await ds.invoke_startup()
        await timed_get(ds, "/")
        await timed_get(ds, "/run/pairs")
        results["open"].append(time.perf_counter() - start)
    for name, path in requests.items():
        results[name] = [await timed_get(ds, path) for _ in range(repeat)]
    response = await ds.client.get(f"/run/pairs.json?_search={KNOWN}&_shape=array")
    assert len(response.json()) == 1, response.text[:500]
    return {name: statistics.median(times) for name, times in results.items()}


@click.command()
@click.option("--pairs", default=1_000_000, show_default=True)
@click.option("--repeat", default=3, show_default=True, help="runs of each request; the median is printed")
@click.option("--dim", default=16, show_default=True, help="embedding size (prune's k-means only; the view reads none)")
@click.option("--keep", type=click.Path(file_okay=False), help="build in this folder and keep it (default: a temp folder)")
def main(pairs, repeat, dim, keep):
    print(f"machine: {describe()}")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="view-bench-"))
    try:
        if (folder / "metrics/prune.json").exists():
            print(
                f"{folder}: the run --keep kept before ({sum(1 for _ in open(folder / 'data/final/cycle_inst.jsonl')):,} pairs)"
            )
        else:
            start = time.perf_counter()
            synthesize(folder, pairs, dim)
            print(f"synthesized {pairs:,} pairs and ran prune: {time.perf_counter() - start:.1f} s")
        params = load_params(ROOT / "params.yaml")
        start = time.perf_counter()
        build(folder, folder / "data/view/run.db", params.prune, params.chain)
        built = time.perf_counter() - start
        size = (folder / "data/view/run.db").stat().st_size / 2**20
        print(f"built the view's database: {built:.1f} s, {size:,.0f} MiB")
        counts = json.loads((folder / "metrics/prune.json").read_text())["pruned_by_reason"]
        reason = max(counts, key=counts.get)
        times = asyncio.run(measure(folder / "data/view/run.db", reason, repeat))
        print(f"{'request':<22} {'seconds':>8} {'target':>7} {'time/target':>12}")
        for name, seconds in times.items():
            print(f"{name:<22} {seconds:>8.3f} {TARGETS[name]:>7.1f} {seconds / TARGETS[name]:>12.2f}")
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
