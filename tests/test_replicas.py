"""Data parallelism: generate.data_parallel_size replicas of an engine, one process each.

On a GPU machine each replica owns its GPUs; here the same processes run on the CPU with
the transformers engine on the tiny model, so the dealing-out, the reassembly in prompt
order, error reporting and shutdown are tested for real.
"""

import pytest

from cycle_instruct.engines import HFEngine, Replicas, open_engine, replica_devices
from cycle_instruct.errors import UserError

from conftest import shipped_params

pytestmark = pytest.mark.slow  # replica processes with models: not in make unit

GREEDY = shipped_params(generate={"engine": "hf", "temperature": 0, "max_new_tokens": 8}).generate
PROMPTS = [f"<|im_start|>user\nWhat is the capital of country number {i}?<|im_end|>\n<|im_start|>assistant\n" for i in range(7)]


def test_replicas_give_each_prompt_its_own_completion_in_order(tiny_model_dir):
    single = HFEngine(tiny_model_dir)
    # each replica gets every second prompt as one batch: the same computation, run in one process
    expected = [None] * len(PROMPTS)
    expected[0::2] = single.run(PROMPTS[0::2], GREEDY)
    expected[1::2] = single.run(PROMPTS[1::2], GREEDY)
    replicas = Replicas("hf", tiny_model_dir, GREEDY, 8, devices=[None, None])
    try:
        got = replicas.run(PROMPTS, GREEDY)
        assert got == expected
        assert replicas.run(PROMPTS[:1], GREEDY) == expected[:1]  # fewer prompts than replicas
    finally:
        procs = list(replicas.procs)
        replicas.close()
    assert not any(p.is_alive() for p in procs)


def test_replicas_run_whole_batches_with_their_seeds_and_can_be_broken_off(tiny_model_dir):
    """A stage's batches go out whole, so sampling gives what one engine gives (a batch split over
    replicas would draw its random numbers in other shapes); a run broken off after its first
    batch stops the replicas, which then serve the next run."""
    sampled = GREEDY.but(temperature=1.0, top_k=50)
    batches = [(f"b{b}", PROMPTS[b::3], 100 + b) for b in range(3)] + [("b3", PROMPTS[:2], 7)]
    expected = dict(HFEngine(tiny_model_dir).run_batches(batches, sampled))
    replicas = Replicas("hf", tiny_model_dir, sampled, 8, devices=[None, None])
    try:
        assert dict(replicas.run_batches(batches, sampled)) == expected
        run = replicas.run_batches(batches, sampled)
        key, completions = next(run)
        assert completions == expected[key]
        run.close()
        assert dict(replicas.run_batches(batches[:1], sampled)) == {"b0": expected["b0"]}
    finally:
        replicas.close()


def test_a_replica_that_cannot_load_its_model_ends_in_one_line(tmp_path, tiny_model_dir):
    import shutil

    broken = shutil.copytree(tiny_model_dir, tmp_path / "base")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # the tokenizer loads, the weights do not
    replicas = Replicas("hf", broken, GREEDY, 8, devices=[None])
    try:
        with pytest.raises(UserError) as e:
            replicas.run(PROMPTS, GREEDY)
    finally:
        replicas.close()
    assert str(e.value).startswith(f"{broken}: cannot load it (SafetensorError") and len(str(e.value).splitlines()) == 1


def test_data_parallel_without_a_gpu_is_refused_in_one_line(tiny_model_dir):
    cfg = GREEDY.but(data_parallel_size=2)
    with pytest.raises(UserError, match=r"generate.data_parallel_size \(2\) must be 1 without a GPU"):
        replica_devices(cfg)
    with pytest.raises(UserError, match="must be 1 without a GPU"):
        open_engine(tiny_model_dir, cfg, 8, n_prompts=100)


def test_splitting_a_model_needs_vllm(tiny_model_dir):
    with pytest.raises(UserError, match="split a model with vLLM"):
        open_engine(tiny_model_dir, GREEDY.but(tensor_parallel_size=2), 8, n_prompts=100)
