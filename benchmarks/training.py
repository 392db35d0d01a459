"""Benchmark: LoRA training batches, today's against ours, on the same pairs in one run.

Rows: pad-to-longest in random micro-batches with logits for every position (the loop
before grouping) and the changes one by one: grouping by length, the LM head on the target
positions only, both (the default), and both with gradient checkpointing. For each: real
(non-padding) tokens per second, the share of processed tokens that is padding, peak memory
and the ratio of its real tokens/s to the first row's. Each row trains in its own process,
so each peak is its own (RSS high-water mark on CPU; CUDA peak allocated on a GPU); the rows
run in turn, `--repeats` rounds, and each rate is the best of its rounds (the least disturbed).

Pairs: the demo corpus's question/answer paragraphs (data/raw) and the Dolly track
(data/tracks/dolly.jsonl, context joined to the instruction), forward direction, so lengths
vary as in the demo. Model: the embedded SmolLM2-135M (prepared into a temp folder) unless given.
Model FLOP/s use 6 x parameters x real tokens/s (the usual training estimate).

    python benchmarks/training.py [--base DIR] [--pairs 88] [--repeats 2] [--micro-batch 4] [--cutoff 384]
"""

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cycle_instruct.models import device, load_model, load_tokenizer, prepare_base  # noqa: E402
from cycle_instruct.params import EMBEDDED_BASE, load_params  # noqa: E402
from cycle_instruct.prompts import forward_messages, shipped_prompts  # noqa: E402
from cycle_instruct.training import lora_model, train_lora  # noqa: E402

from machine import describe  # noqa: E402

ROWS = {  # name: (train.group_by_length, logits for every position, train.gradient_checkpointing)
    "random batches, full logits (before)": (False, True, False),
    "grouped by length, full logits": (True, True, False),
    "random batches, target-only loss": (False, False, False),
    "grouped by length + target-only loss (default)": (True, False, False),
    "grouped + target-only + gradient checkpointing": (True, False, True),
}


def bench_pairs(n: int) -> list[tuple[list[dict], str]]:
    prompts = shipped_prompts()
    pairs = []
    for path in sorted((ROOT / "data/raw").glob("faq_*.txt")):
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        pairs += [(q, a) for q, a in zip(paragraphs[::2], paragraphs[1::2]) if "?" in q]
    for line in (ROOT / "data/tracks/dolly.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        pairs.append(("\n\n".join(filter(None, [r["instruction"], r["context"]])), r["response"]))
    pairs = (pairs * (n // len(pairs) + 1))[:n]
    return [(forward_messages(prompts, q), a) for q, a in pairs]


def peak_memory_gib() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def worker(base, row, n_pairs, micro, effective, cutoff) -> dict:
    """One row, in this process: load, warm up on a few pairs, then one timed epoch."""
    grouped, full_logits, checkpointing = ROWS[row]
    cfg = load_params(ROOT / "params.yaml").train.but(
        group_by_length=grouped,
        gradient_checkpointing=checkpointing,
        micro_batch=micro,
        effective_batch=effective,
        cutoff=cutoff,
        epochs=1,
    )
    tokenizer = load_tokenizer(base, padding_side="right")
    model = lora_model(load_model(base, trainable=True), cfg)
    pairs = bench_pairs(n_pairs)
    loaded = peak_memory_gib()
    train_lora(model, tokenizer, pairs[:effective], cfg, full_logits=full_logits)  # warm-up: first-call costs
    _, summary = train_lora(model, tokenizer, pairs, cfg, full_logits=full_logits)
    parameters = sum(p.numel() for p in model.parameters())
    return {**summary, "peak_gib": peak_memory_gib(), "loaded_gib": loaded, "parameters": parameters}


@click.command()
@click.option("--base", type=click.Path(file_okay=False), help="prepared base model folder (default: the embedded model)")
@click.option(
    "--pairs", "n_pairs", default=88, show_default=True, help="pairs per epoch (the demo's and Dolly's, repeated if more)"
)
@click.option("--repeats", default=2, show_default=True, help="rounds over the rows; each rate is the best round")
@click.option("--micro-batch", default=4, show_default=True)
@click.option("--effective-batch", default=8, show_default=True)
@click.option("--cutoff", default=384, show_default=True)
@click.option("--rows", default=",".join(str(i) for i in range(len(ROWS))), show_default=True, help="which rows, by number")
@click.option("--peak-tflops", type=float, help="the device's peak (dense, training dtype) TFLOP/s, to print MFU")
@click.option("--worker", "worker_row", hidden=True)
def main(base, n_pairs, repeats, micro_batch, effective_batch, cutoff, rows, peak_tflops, worker_row):
    if worker_row:
        print(json.dumps(worker(base, worker_row, n_pairs, micro_batch, effective_batch, cutoff)))
        return
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="bench-training-")) / "base"
        prepare_base(EMBEDDED_BASE, base)
    names = [list(ROWS)[int(i)] for i in rows.split(",")]
    lengths = sorted(len(a) + len(m[-1]["content"]) for m, a in bench_pairs(n_pairs))
    print(
        f"machine: {describe()}, torch {torch.__version__}, device {device()}"
        + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "")
    )
    print(
        f"{n_pairs} pairs (demo FAQ + Dolly, {lengths[0]}-{lengths[-1]} characters), micro-batch {micro_batch}, effective batch {effective_batch}, "
        f"cutoff {cutoff}, one epoch per row, best of {repeats} rounds, each row in its own process\n"
    )
    results = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            command = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--base",
                str(base),
                "--pairs",
                str(n_pairs),
                "--micro-batch",
                str(micro_batch),
                "--effective-batch",
                str(effective_batch),
                "--cutoff",
                str(cutoff),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name}: failed\n{done.stderr[-3000:]}")
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        "| batches | real tok/s | vs first row | padding | peak memory GiB (after load) | model TFLOP/s (6N) | MFU |\n|---|---|---|---|---|---|---|"
    )
    before = None
    for name in names:
        best = max(results[name], key=lambda r: r["tokens_per_s"])
        rate = best["tokens_per_s"]
        before = before or rate
        tflops = 6 * best["parameters"] * rate / 1e12
        mfu = f"{tflops / peak_tflops:.1%}" if peak_tflops else "-"
        peak = max(r["peak_gib"] for r in results[name])
        print(
            f"| {name} | {rate:.0f} | {rate / before:.2f}x | {best['padding_fraction']:.0%} | {peak:.2f} ({best['loaded_gib']:.2f}) | {tflops:.3f} | {mfu} |",
            flush=True,
        )
    print(
        f"\nreal tokens per epoch: {best['real_tokens']}; rates of every round: "
        + "; ".join(f"{i}: {', '.join(str(r['tokens_per_s']) for r in results[n])}" for i, n in enumerate(names))
    )


if __name__ == "__main__":
    main()
