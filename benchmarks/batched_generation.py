"""Benchmark: batched, length-sorted generation vs one prompt at a time, in one run.

Prints tokens/second of both and their ratio. Uses the prepared base model of the
pipeline (run `dvc repro prepare_base` first) or any HF folder given as argument.

    python benchmarks/batched_generation.py [MODEL_DIR] [--prompts 32] [--max-new-tokens 48]
"""

import time

import click

from cycle_instruct.generate import generate
from cycle_instruct.models import device, load_model, load_tokenizer
from cycle_instruct.prompts import forward_messages
from cycle_instruct.records import read_records

QUESTIONS = "data/reformatted/questions.jsonl"


@click.command()
@click.argument("model_dir", default="data/models/base")
@click.option("--prompts", default=32, show_default=True)
@click.option("--max-new-tokens", default=48, show_default=True)
@click.option("--batch-size", default=16, show_default=True)
def main(model_dir, prompts, max_new_tokens, batch_size):
    tokenizer, model = load_tokenizer(model_dir), load_model(model_dir)
    try:
        questions = [r.instruction for r in read_records(QUESTIONS)][:prompts]
    except Exception:
        questions = []
    questions = (questions or ["What is the capital of France?", "How do plants make food?"]) * prompts
    conversations = [forward_messages(q) for q in questions[:prompts]]
    results = {}
    for label, size in (("batched", batch_size), ("one at a time", 1)):
        cfg = {"batch_size": size, "temperature": 0, "max_new_tokens": max_new_tokens}
        start = time.perf_counter()
        tokens = sum(g.new_tokens for g in generate(model, tokenizer, conversations, cfg, desc=label))
        results[label] = tokens / (time.perf_counter() - start)
        print(f"{label:>14}: {results[label]:8.1f} tokens/s ({tokens} tokens, {len(conversations)} prompts)")
    print(f"device {device()}: batched / one-at-a-time throughput = {results['batched'] / results['one at a time']:.2f}x")


if __name__ == "__main__":
    main()
