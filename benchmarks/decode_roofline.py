"""Benchmark: transformers' decoding against the memory roofline, on a model of a given shape.

A decoding step reads every weight once (the input embedding excepted: only its looked-up rows)
and each sequence's KV cache, and makes one token per sequence. So at batch B the fastest a
memory-bound decoder can go is B x bandwidth / bytes read per step: the roofline. This
prints, in one run, the bandwidth it measures (a device-to-device copy), then for each batch
size the decode rate of transformers' `generate` (greedy, KV cache, as the pipeline's HF
engine calls it), the roofline at that batch and the fraction of it reached. That fraction is
what a continuous-batching engine such as vLLM can win back.

The model has random weights (`--shape`): llama-8b is Llama-3.1-8B's shape (the paper's base
model), smollm2-135m the embedded model's, tiny one for tests. Prompts are random token ids of
`--prompt-len`; every sequence writes exactly `--new-tokens` (end of turn is ignored). The decode
rate leaves the prefill out: inside one generate call it takes the time from the first new token
to the last, and divides the tokens in between by it. bf16 on a GPU, fp32 on CPU. Needs only torch
and transformers (argparse, not click; none of our package), so it runs as it is on a GPU
machine that has nothing else.

    python benchmarks/decode_roofline.py [--shape llama-8b] [--batches 1,16,64] [--prompt-len 128] [--new-tokens 96]
"""

import argparse
import time

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from machine import describe  # benchmarks/ is on sys.path when this script runs

FIELDS = (  # of LlamaConfig, in the order of each row below
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "tie_word_embeddings",
    "rope_theta",
)
SHAPES = {  # the first two are the published architectures
    name: dict(zip(FIELDS, row))
    for name, row in {
        "llama-8b": (128256, 4096, 14336, 32, 32, 8, False, 500000.0),
        "smollm2-135m": (49152, 576, 1536, 30, 9, 3, True, 100000.0),
        "tiny": (1024, 64, 128, 2, 4, 2, False, 10000.0),
    }.items()
}


def shape_config(shape: str):
    from transformers import LlamaConfig

    return LlamaConfig(**SHAPES[shape], max_position_embeddings=4096)


def random_model(shape: str, on: str, dtype: torch.dtype):
    from transformers import LlamaForCausalLM

    config = shape_config(shape)
    with torch.device(on):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    return model.eval()


def bytes_per_step(config, dtype: torch.dtype, batch: int, context: float) -> float:
    """Bytes one decoding step reads: the weights (all but the input embedding's unread rows)
    and `batch` KV caches of `context` tokens each."""
    size = torch.empty((), dtype=dtype).element_size()
    with torch.device("meta"):
        from transformers import LlamaForCausalLM

        model = LlamaForCausalLM(config)
    weights = sum(p.numel() for p in model.parameters())  # tied embeddings are counted once: the LM head reads them
    if not config.tie_word_embeddings:
        weights -= model.get_input_embeddings().weight.numel()
    head_dim = config.hidden_size // config.num_attention_heads
    kv_per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim
    return (weights + batch * context * kv_per_token) * size


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def copy_bandwidth(on: str, gib: float) -> float:
    """Bytes/s of a device-to-device copy (each byte read once and written once), best of 5."""
    src = torch.empty(int(gib * 2**30), dtype=torch.uint8, device=on)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(5):
        sync()
        start = time.perf_counter()
        dst.copy_(src)
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() / best


class StepClock(StoppingCriteria):
    """Records the time after each generated token; it never stops generation."""

    def __init__(self):
        self.stamps = []

    def __call__(self, input_ids, scores, **kwargs):
        sync()
        self.stamps.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def generate_seconds(model, ids: torch.Tensor, new_tokens: int) -> tuple[float, float]:
    """(whole generate seconds, seconds from the first generated token to the last)."""
    clock = StepClock()
    sync()
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            eos_token_id=None,
            pad_token_id=0,
            top_p=None,
            top_k=None,
            temperature=None,
            stopping_criteria=StoppingCriteriaList([clock]),
        )
    sync()
    assert out.shape[1] == ids.shape[1] + new_tokens and len(clock.stamps) == new_tokens
    return time.perf_counter() - start, clock.stamps[-1] - clock.stamps[0]


def decode_rate(model, batch: int, prompt_len: int, new_tokens: int, seed: int = 0) -> tuple[float, float]:
    """(decode tokens/s without the prefill, whole generate tokens/s) at this batch size, the best of three.
    The decode time is taken inside one generate call (first token to last), so a busy machine can slow
    it but never make it zero or negative, as subtracting two calls' times could."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, model.config.vocab_size, (batch, prompt_len), generator=generator).to(model.device)
    generate_seconds(model, ids, 2)  # warm-up
    runs = [generate_seconds(model, ids, new_tokens) for _ in range(3)]
    whole, decode = min(r[0] for r in runs), min(r[1] for r in runs)
    return batch * (new_tokens - 1) / decode, batch * new_tokens / whole


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} ({torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB)"
    return describe()


def at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2 (the decode rate is the tokens after the first)")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--shape", choices=list(SHAPES), default="llama-8b")
    parser.add_argument("--batches", default="1,16,64", help="comma-separated batch sizes")
    parser.add_argument("--prompt-len", type=int, default=128)
    parser.add_argument("--new-tokens", type=at_least_two, default=96)
    parser.add_argument("--copy-gib", type=float, default=2.0, help="size of the tensor whose copy measures bandwidth")
    args = parser.parse_args()
    shape, prompt_len, new_tokens = args.shape, args.prompt_len, args.new_tokens
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    on = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if on == "cuda" else torch.float32
    print(f"machine: {machine()}, torch {torch.__version__}, device {on}, {str(dtype).removeprefix('torch.')}")
    bandwidth = copy_bandwidth(on, args.copy_gib)
    model = random_model(shape, on, dtype)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {shape} shape, random weights, {params / 1e9:.3f} B parameters; {prompt_len}-token prompts, "
        f"{new_tokens} new tokens each; measured copy bandwidth {bandwidth / 1e9:.1f} GB/s\n"
    )
    print("| batch | decode tok/s | whole generate tok/s | bytes read per step | roofline tok/s | fraction of roofline |")
    print("|---|---|---|---|---|---|")
    for batch in batches:
        decode, whole = decode_rate(model, batch, prompt_len, new_tokens)
        step_bytes = bytes_per_step(model.config, dtype, batch, prompt_len + new_tokens / 2)  # mean context while decoding
        roofline = batch * bandwidth / step_bytes
        print(
            f"| {batch} | {decode:.1f} | {whole:.1f} | {step_bytes / 1e9:.3f} GB | {roofline:.1f} | {decode / roofline:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
