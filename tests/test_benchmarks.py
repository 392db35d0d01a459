"""The benchmarks users are pointed to run, and the arithmetic behind their claims.

A wrong roofline (a shape that is not Llama-3.1-8B's, bytes miscounted) would tell users the
wrong thing about their GPUs, so its shapes are checked against the real models.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import decode_roofline  # noqa: E402

pytestmark = pytest.mark.slow  # runs the benchmark scripts: not in make unit


def table_rows(output: str) -> list[list[str]]:
    """The cells of a printed markdown table's body rows."""
    lines = [
        line
        for line in output.splitlines()
        if line.startswith("| ") and not line.startswith("| engine") and not line.startswith("| batch")
    ]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def parameters(shape: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in LlamaForCausalLM(decode_roofline.shape_config(shape)).parameters())


def llama_parameters(shape: dict) -> int:
    """A Llama's parameter count from its shape, by hand: embedding, per layer the attention's q/k/v/o,
    the gated MLP's three matrices and two norms, the final norm, and an LM head unless tied."""
    vocab, hidden, inner, layers = (
        shape["vocab_size"],
        shape["hidden_size"],
        shape["intermediate_size"],
        shape["num_hidden_layers"],
    )
    kv = shape["num_key_value_heads"] * hidden // shape["num_attention_heads"]
    layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inner + 2 * hidden
    return vocab * hidden * (1 if shape["tie_word_embeddings"] else 2) + layers * layer + hidden


def test_llama_8b_shape_has_llama_3_1_8b_parameter_count():
    assert (
        parameters("llama-8b") == llama_parameters(decode_roofline.SHAPES["llama-8b"]) == 8_030_261_248
    )  # Llama-3.1-8B's safetensors
    for shape in decode_roofline.SHAPES:  # the model built from each shape is the architecture counted by hand
        assert parameters(shape) == llama_parameters(decode_roofline.SHAPES[shape]), shape


def test_smollm2_shape_is_the_embedded_model(embedded_base):
    from safetensors import safe_open

    config = json.loads((embedded_base / "config.json").read_text())
    config["rope_theta"] = config["rope_parameters"]["rope_theta"]  # transformers 5 nests it
    for key, value in decode_roofline.SHAPES["smollm2-135m"].items():
        assert config[key] == value, key
    weights = 0
    for file in embedded_base.glob("*.safetensors"):
        with safe_open(file, "pt") as f:
            weights += sum(f.get_tensor(name).numel() for name in f.keys())
    assert parameters("smollm2-135m") == weights


def test_bytes_per_step_counts_weights_once_and_every_kv_cache():
    config = decode_roofline.shape_config("llama-8b")
    embedding = 128256 * 4096  # untied: the input embedding is looked up, not read whole
    kv_per_token = 2 * 32 * 8 * 128  # K and V, 32 layers, 8 KV heads of 128
    assert decode_roofline.bytes_per_step(config, torch.bfloat16, 1, 0) == (8_030_261_248 - embedding) * 2
    assert (
        decode_roofline.bytes_per_step(config, torch.bfloat16, 64, 176)
        == (8_030_261_248 - embedding + 64 * 176 * kv_per_token) * 2
    )
    tied = decode_roofline.shape_config("smollm2-135m")  # tied: the LM head reads the embedding matrix
    assert decode_roofline.bytes_per_step(tied, torch.float32, 1, 0) == parameters("smollm2-135m") * 4


def test_decode_roofline_runs_with_only_torch_and_transformers_and_prints_a_row_per_batch():
    # the lent GPU machine has torch and transformers but neither our package nor click/pydantic: block them
    run_without_ours = (
        "import runpy, sys; sys.modules.update(dict.fromkeys(['click', 'pydantic', 'cycle_instruct'])); "
        "sys.argv = sys.argv[1:]; sys.path.insert(0, sys.argv[0].rpartition('/')[0]); "  # as `python script.py` does
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    prompt_len, new_tokens = 8, 24  # 23 decoding steps timed inside one generate call
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            run_without_ours,
            str(ROOT / "benchmarks/decode_roofline.py"),
            "--shape",
            "tiny",
            "--batches",
            "1,4",
            "--prompt-len",
            str(prompt_len),
            "--new-tokens",
            str(new_tokens),
            "--copy-gib",
            "0.05",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tiny = decode_roofline.SHAPES["tiny"]
    model_line = re.search(r"random weights, ([\d.]+) B parameters; .* measured copy bandwidth ([\d.]+) GB/s", out)
    assert float(model_line[1]) == round(llama_parameters(tiny) / 1e9, 3)
    bandwidth = float(model_line[2])
    assert 0.1 < bandwidth < 20_000  # GB/s: a memory copy, not a rounding to 0 nor a unit slip
    rows = table_rows(out)
    assert [row[0] for row in rows] == ["1", "4"]
    # by hand: fp32 weights less the untied input embedding, and per sequence K and V of every layer
    # at the mean context while decoding (the prompt and half the new tokens)
    weights = llama_parameters(tiny) - tiny["vocab_size"] * tiny["hidden_size"]
    kv_per_token = (
        2 * tiny["num_hidden_layers"] * tiny["num_key_value_heads"] * tiny["hidden_size"] // tiny["num_attention_heads"]
    )
    for batch, decode, whole, step_bytes, roofline, fraction in rows:
        batch, decode, whole, roofline, fraction = int(batch), float(decode), float(whole), float(roofline), float(fraction)
        expected_bytes = 4 * (weights + batch * (prompt_len + new_tokens / 2) * kv_per_token)
        assert step_bytes == f"{expected_bytes / 1e9:.3f} GB"
        # roofline = batch x bandwidth / bytes per step; the bandwidth is printed to 0.05 GB/s, the roofline to 0.05
        assert abs(roofline - batch * bandwidth * 1e9 / expected_bytes) <= batch * 0.05e9 / expected_bytes + 0.05, (
            roofline,
            bandwidth,
        )
        assert 0 < decode < 10**7 and 0 < whole < 10**7  # tok/s of a 2-layer model: positive, and not a unit slip
        assert abs(fraction - decode / roofline) <= 0.005 + 1e-9  # the fraction printed is of the two rates printed


def test_generation_benchmark_rounds_give_medians_and_ratio_ranges(tiny_model_dir):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/generation.py"),
            "--base",
            str(tiny_model_dir),
            "--prompts",
            "4",
            "--max-new-tokens",
            "4",
            "--rows",
            "hf,hf1",
            "--rounds",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rounds = re.findall(r"^round (\d): (\w+) ([\d.]+) tok/s$", out, re.M)
    assert [(r, key) for r, key, _ in rounds] == [("1", "hf"), ("1", "hf1"), ("2", "hf"), ("2", "hf1")]
    (hf, hf1) = table_rows(out)
    rates = {key: sorted(float(rate) for _, k, rate in rounds if k == key) for key in ("hf", "hf1")}
    assert abs(float(hf[1]) - sum(rates["hf"]) / 2) < 0.06  # the median of two rounds is their mean
    assert abs(float(hf1[1]) - sum(rates["hf1"]) / 2) < 0.06
    assert all(0 < rate < 10**7 for rate in rates["hf"] + rates["hf1"])  # tok/s: positive, and not a unit slip
    assert hf[3] == "1.00x"
    # hf1's ratio: per round, its rate over the same round's hf rate; the median of two is their mean, the range their extremes
    ratios = [float(a) / float(b) for (_, k1, a), (_, k2, b) in zip(rounds[1::2], rounds[0::2]) if (k1, k2) == ("hf1", "hf")]
    assert len(ratios) == 2
    median, low, high = map(float, re.fullmatch(r"([\d.]+)x \(([\d.]+)-([\d.]+)\)", hf1[3]).groups())
    tolerance = 0.006 + 0.06 * max(ratios) / min(rates["hf"])  # the table's rounding to 0.01, the round lines' to 0.05 tok/s
    assert (
        abs(median - sum(ratios) / 2) < tolerance and abs(low - min(ratios)) < tolerance and abs(high - max(ratios)) < tolerance
    )
    for row in (hf, hf1):  # start-up seconds, and tokens: 4 prompts of at most 4 new tokens, greedy
        assert 0 <= float(row[2]) < 600 and 0 < int(row[4]) <= 4 * 4  # a tiny model starts in under 0.05 s: 0.0
    machine = out.splitlines()[0]  # the machine named first, as the README quotes it
    assert re.fullmatch(r"machine: .+, \d+ cores, \d+ GiB, \w+ \w+, torch .+, device cpu", machine), machine
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if family := re.search(r"^cpu family\s*: (\d+)", cpuinfo, re.M):  # "AMD EPYC" names every generation of it
        assert f"(family {family.group(1)} model " in machine, machine


def test_the_fingerprint_benchmark_times_a_first_and_a_cached_fingerprint():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fingerprint.py"), "--gib", "0.05"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first, second, ratio = re.search(r"first fingerprint ([\d.]+) s .* second ([\d.]+) s: (\d+)x faster", out).groups()
    quotient = float(first) / float(second)  # of the printed, rounded times
    assert float(first) > 0 and float(second) > 0 and abs(int(ratio) - quotient) <= max(1, 0.2 * quotient)


def test_the_quality_benchmark_scores_flags_and_negation_flips_as_a_reader_would(tmp_path):
    """benchmarks/quality.py's own arithmetic: precision and recall of `score < threshold` against hand
    labels, and which reformat rewrites gained or lost a negation (the docs' tables come from these)."""
    import quality

    from cycle_instruct.records import Record, write_records

    judged = [(True, 0.2, 0.9), (True, 0.4, 0.5), (True, 0.8, 0.95), (False, 0.9, 0.4)]  # (invented, support, cosine)
    assert quality.precision_recall(judged, 1, 0.5) == (1.0, 2 / 3)  # flags the two low-support invented answers
    assert quality.precision_recall(judged, 2, 0.6) == (0.5, 1 / 3)  # the grounded answer's low cosine is a false flag
    answers = [
        Record("a1", "response", response="Workers are not restarted.", raw="Workers are restarted on HUP."),
        Record("a2", "response", response="It can't be changed.", raw="It cannot be changed."),
        Record("a3", "response", response="Set the timeout.", raw="Set the timeout."),
        Record("a4", "response", response="Use the cache.", raw=None),
        Record("a5", "response", response="The limit is 30 seconds.", raw="There is no limit."),
    ]
    write_records(tmp_path / "data/reformatted/answers.jsonl", answers)
    found = quality.reformat_rewrites(tmp_path)
    assert found["answers"] == 5 and found["rewritten"] == 3  # a1, a2 and a5 differ from their paragraph
    assert [r.id for r in found["negation_changed"]] == ["a1", "a5"]  # "can't" for "cannot" keeps the meaning
