"""Typed params: every wrong value is one line naming the key, the value and what is allowed."""

import subprocess
import sys

import pytest

from cycle_instruct.errors import UserError
from cycle_instruct.params import load_params, parse_params

from conftest import ROOT, params_yaml, run_stage, write_params

WRONG = {  # name: (changes to the shipped params, the line the user sees after "params.yaml: ")
    "wrong type": ({"prune": {"fraction": "abc"}}, "prune.fraction = 'abc': should be a valid number"),
    "fraction above 1": ({"prune": {"fraction": 1.5}}, "prune.fraction = 1.5: should be less than 1"),
    "fraction 0": ({"prune": {"fraction": 0}}, "prune.fraction = 0: should be greater than 0"),
    "batch size 0": ({"generate": {"batch_size": 0}}, "generate.batch_size = 0: should be greater than or equal to 1"),
    "negative tokens": (
        {"generate": {"max_new_tokens": -5}},
        "generate.max_new_tokens = -5: should be greater than or equal to 1",
    ),
    "typo in a key": ({"prune": {"fractoin": 0.1}}, "prune.fractoin is not a known key; did you mean prune.fraction?"),
    "typo in a section": ({"generat": {}}, "generat is not a known key; did you mean generate?"),
    "on_reject typo": (
        {"reformat": {"on_reject": "keep-raw"}},
        "reformat.on_reject = 'keep-raw': should be 'keep_raw' or 'drop'",
    ),
    "prev that does not exist": (
        {"iterations": {"1": {"prev": 0}, "2": {"prev": 7}}},
        "iterations: [2] are not reachable from 0",
    ),
    "iterations in a cycle": (
        {"iterations": {"1": {"prev": 2}, "2": {"prev": 1}}},
        "iterations: [1, 2] are not reachable from 0",
    ),
    "two iterations after one": ({"iterations": {"1": {"prev": 0}, "2": {"prev": 0}}}, "iterations: [1, 2] all name 0 as prev"),
    "no iterations": ({"iterations": {}}, "iterations: empty; add at least"),
    "unquoted iteration key": ({"iterations": {1: {"prev": 0}}}, "iterations: key 1 must be quoted"),
    "iteration key not a number": (
        {"iterations": {"1$(touch x)": {"prev": 0}}},
        "iterations: key '1$(touch x)' must be a whole number",
    ),
    "embedder that does not exist": (
        {"model": {"embedder": "no-such-model"}},
        "model.embedder = 'no-such-model': embedding model 'no-such-model' not found",
    ),
    "base model that does not exist": (
        {"model": {"base": "./models/nope"}},
        "model.base = './models/nope': base model './models/nope' not found",
    ),
    "temperature below 0": (
        {"generate": {"temperature": -0.1}},
        "generate.temperature = -0.1: should be greater than or equal to 0",
    ),
    "k below 1": ({"prune": {"k": 0}}, "prune.k = 0: should be greater than or equal to 1"),
    "zero epochs": ({"train": {"epochs": 0}}, "train.epochs = 0: should be greater than or equal to 1"),
    "fractional epochs": ({"train": {"epochs": 1.5}}, "train.epochs = 1.5: should be a valid integer"),
    "not a boolean": ({"reformat": {"enabled": "maybe"}}, "reformat.enabled = 'maybe': should be a valid boolean"),
    "micro batch above effective": (
        {"train": {"micro_batch": 16}},
        "train: train.effective_batch (8) must be at least train.micro_batch (16)",
    ),
}


@pytest.mark.parametrize("case", WRONG)
def test_each_wrong_value_is_one_line_naming_key_value_and_what_is_allowed(case):
    changes, line = WRONG[case]
    with pytest.raises(UserError) as error:
        parse_params(params_yaml(changes))
    assert str(error.value).splitlines() == [str(error.value)]  # exactly one line
    assert str(error.value).startswith(f"params.yaml: {line}"), str(error.value)


def test_eval_methods_are_checked_by_the_evaluation_only():
    methods = ["vanilla", "cycle_inst_1", "cycle_inst_2", "cycle_filt_2"]
    params = parse_params(params_yaml({"eval": {"methods": methods}}))  # the method runs with its 1 iteration
    with pytest.raises(UserError, match=r"params.yaml: eval.methods names \['cycle_inst_2', 'cycle_filt_2'\]"):
        params.check_eval_methods()


def test_a_missing_key_or_section_is_named():
    raw = params_yaml({})
    del raw["train"]["weight_decay"], raw["iterations"]
    with pytest.raises(UserError) as error:
        parse_params(raw)
    assert str(error.value).splitlines() == [
        "params.yaml: train.weight_decay is missing; add it (docs/params.md lists every key with its meaning)",
        "params.yaml: iterations is missing; add it (docs/params.md lists every key with its meaning)",
    ]


def test_the_shipped_params_are_valid():
    params = load_params(ROOT / "params.yaml")  # every key there, each value allowed
    params.check_eval_methods()  # and the evaluation's methods name only iterations that run
    assert params.generate.but(temperature=0).temperature == 0


def test_params_file_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)


def test_a_stage_given_wrong_params_prints_only_the_errors(tmp_path):
    write_params(tmp_path, {"prune": {"fraction": "abc", "k": 0}})
    result = run_stage(
        "prune.py",
        "--dataset",
        "d.jsonl",
        "--embeddings",
        "e.npy",
        "--out",
        "o.jsonl",
        "--pruned",
        "p.jsonl",
        "--metrics",
        "m.json",
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: params.yaml: prune.k = 0: should be greater than or equal to 1",
        "error: params.yaml: prune.fraction = 'abc': should be a valid number, unable to parse string as a number",
    ]
    assert not (tmp_path / "o.jsonl").exists()


def test_check_command_validates_before_dvc_parses(tmp_path):
    write_params(tmp_path, {})
    ok = subprocess.run([sys.executable, "-m", "cycle_instruct.cli", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "params.yaml: ok (1 iteration: 0 -> 1)"
    write_params(tmp_path, {"iterations": {"1": {"prev": 0}, "2": {"prev": 1}}})
    two = subprocess.run([sys.executable, "-m", "cycle_instruct.cli", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert two.returncode == 0 and two.stdout.strip() == "params.yaml: ok (2 iterations: 0 -> 1 -> 2)"
    write_params(tmp_path, {"iterations": {"1": {"prev": 0}, "2": {"prev": 5}}})
    bad = subprocess.run([sys.executable, "-m", "cycle_instruct.cli", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error: params.yaml: iterations: [2] are not reachable from 0")
