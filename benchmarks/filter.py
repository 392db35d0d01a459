"""Benchmark: Cycle-Filt's clustering, today's full k-means against faiss k-means, in one run.

For each size: seconds of scikit-learn's full k-means (n_init=10, what the prune stage used
for every size before, and still uses up to prune.full_kmeans_max pairs), of faiss k-means
(pruning.faiss_kmeans, what it uses above) and of scikit-learn's MiniBatchKMeans (the
alternative we did not pick); the speed-up over the full k-means; and each partition's inertia
(sum of squared distances to its cluster means) relative to the full k-means'. A method is
skipped where its time, extrapolated from the size before as n^1.6, would pass --cap.

Data: "random", unit vectors drawn uniformly in 384 dims (the issue's test; they have almost
no cluster structure, so every partition has about the same inertia and the comparison says
little), and "mixture", unit vectors around 1,000 random centres (noise 0.06 per dimension),
so that a worse partition shows. With --texts, also "text": the pipeline's embedder
(all-MiniLM-L6-v2) over the paragraphs of real JSONL files, as far as they go.

    python benchmarks/filter.py [--sizes 10000,100000,1000000] [--k 200] [--cap 900] [--texts 'FILE...']
"""

import glob
import json
import os
import sys
import time
from pathlib import Path

import click
import faiss
import numpy as np
import sklearn
from sklearn.cluster import KMeans, MiniBatchKMeans

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle_instruct.pruning import faiss_kmeans  # noqa: E402

from machine import describe  # noqa: E402

DIM = 384
GROWTH = 1.6  # the full k-means measured n^1.57 from 10k to 100k pairs (issue 9)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32))


def mixture(n: int, seed: int, centres: int = 1000, noise: float = 0.06) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = unit(rng.standard_normal((centres, DIM), dtype=np.float32))
    x = c[rng.integers(0, centres, n)]
    for s in range(0, n, 100_000):  # in slices: 1M x 384 noise at once would be another 1.5 GB
        x[s : s + 100_000] += noise * rng.standard_normal((min(100_000, n - s), DIM), dtype=np.float32)
    return unit(x)


def text_vectors(patterns: tuple[str, ...]) -> np.ndarray:
    """The paragraphs (split at blank lines, 40+ characters, each once) of every text field."""
    from cycle_instruct.embedding import embed, load_embedder

    texts = {}
    for path in sorted(f for p in patterns for f in glob.glob(p)):
        for line in open(path, encoding="utf-8"):
            row = json.loads(line)
            for key in ("instruction", "context", "response", "input", "output", "text"):
                for p in str(row.get(key) or "").split("\n\n"):
                    if len(p.strip()) >= 40:
                        texts[p.strip()] = None
    start = time.perf_counter()
    vectors = embed(load_embedder("all-MiniLM-L6-v2"), list(texts))
    print(f"text: {len(texts)} paragraphs embedded in {time.perf_counter() - start:.0f} s", flush=True)
    return vectors.astype(np.float32)


def inertia(x: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Sum of squared distances to the cluster means: sum ||x||^2 - sum_c n_c ||mean_c||^2 (float64, in slices)."""
    sums, total = np.zeros((k, x.shape[1])), 0.0
    for s in range(0, len(x), 100_000):
        part = x[s : s + 100_000].astype(np.float64)
        total += float((part**2).sum())
        np.add.at(sums, labels[s : s + 100_000], part)
    counts = np.bincount(labels, minlength=k)
    return total - float(((sums**2).sum(1)[counts > 0] / counts[counts > 0]).sum())


FULL = "full k-means (sklearn, n_init=10)"
METHODS = {  # --methods names them by their first word
    FULL: lambda x, k, seed: KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x),
    "faiss k-means (new)": faiss_kmeans,
    "minibatch: MiniBatchKMeans (sklearn)": lambda x, k, seed: MiniBatchKMeans(
        n_clusters=k, random_state=seed, batch_size=4096, n_init=3
    ).fit_predict(x),
}


@click.command()
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="comma-separated numbers of vectors")
@click.option("--k", default=200, show_default=True)
@click.option("--data", "kinds", default="random,mixture", show_default=True, help="random and/or mixture (comma-separated)")
@click.option(
    "--texts",
    multiple=True,
    help="JSONL file(s) or glob of real text, embedded as a third data set (e.g. '/work/shared/data/*/*.jsonl')",
)
@click.option("--cap", default=900.0, show_default=True, help="skip a method whose extrapolated time passes this many seconds")
@click.option("--methods", default="full,faiss,minibatch", show_default=True)
@click.option("--seed", default=0, show_default=True)
def main(sizes, k, kinds, texts, cap, methods, seed):
    methods = {name: fit for name, fit in METHODS.items() if name.split()[0].rstrip(":") in methods.split(",")}
    kinds = [kind for kind in kinds.split(",") if kind]
    if not methods or set(kinds) - {"random", "mixture"}:
        raise click.BadParameter(
            "--methods: some of full,faiss,minibatch; --data: random and/or mixture (or empty, with --texts)"
        )
    sizes = sorted(int(s) for s in sizes.split(","))
    print(
        f"machine: {describe()} ({len(os.sched_getaffinity(0))} cores usable), "
        f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), scikit-learn {sklearn.__version__}"
    )
    print(f"k = {k}, {DIM} dims, seed {seed}; inertia relative to the full k-means' on the same vectors\n")
    data = {kind: (lambda n, kind=kind: (random_vectors if kind == "random" else mixture)(n, seed + 1)) for kind in kinds}
    if texts:
        pool = text_vectors(texts)
        data["text"] = lambda n: pool[:n] if n <= len(pool) else None
    print("| data | n | method | seconds | speed-up vs full | inertia vs full |\n|---|---|---|---|---|---|")
    for kind, make in data.items():
        last = {}  # method -> (n, seconds) of its last run, to extrapolate
        for n in sizes:
            x = make(n)
            if x is None:
                print(f"| {kind} | {n} | (only {len(pool)} paragraphs) | | | |")
                continue
            times, inertias = {}, {}
            for name, fit in methods.items():
                if name in last and last[name][1] * (n / last[name][0]) ** GROWTH > cap:
                    print(
                        f"| {kind} | {n} | {name} | skipped: about {last[name][1] * (n / last[name][0]) ** GROWTH:.0f} s expected (cap {cap:.0f}) | | |",
                        flush=True,
                    )
                    last[name] = (n, last[name][1] * (n / last[name][0]) ** GROWTH)
                    continue
                start = time.perf_counter()
                labels = fit(x, k, seed)
                times[name] = time.perf_counter() - start
                last[name] = (n, times[name])
                inertias[name] = inertia(x, labels, k)
                speed = f"{times[FULL] / times[name]:.1f}x" if FULL in times else "-"
                rel = f"{inertias[name] / inertias[FULL] - 1:+.2%}" if FULL in inertias else "-"
                print(f"| {kind} | {n} | {name} | {times[name]:.1f} | {speed} | {rel} |", flush=True)


if __name__ == "__main__":
    main()
