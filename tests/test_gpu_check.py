"""benchmarks/gpu_check.sh --dry-run: on this CPU machine, the GPU check's wiring, so that the day a GPU
is lent the script runs as it is: every step's command line parsed by its own script, the demo's
params and inputs written, the decode roofline run small, and one table."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # a dozen Python processes


def test_the_gpu_check_dry_run_checks_every_step_and_prints_one_table(tmp_path):
    env = {**os.environ, "GPU_CHECK_DIR": str(tmp_path / "check"), "OUT": str(tmp_path / "out")}
    (tmp_path / "out").mkdir()
    run = subprocess.run(["bash", str(ROOT / "benchmarks/gpu_check.sh"), "--dry-run"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and not line.startswith("| check")]
    checks = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    stages = ["prepare_base", "relabel_answers", "train_bwd", "relabel_questions", "train_fwd", "embed"]
    assert checks[:8] == ["machine", *[f"demo: {s}" for s in stages], "training benchmark"], run.stdout
    assert {"decode roofline", "roofline: batch 1", "roofline: batch 16", "replicas"} <= set(checks), run.stdout
    for row in rows[1:8]:  # each stage's own command line parses its options
        assert "| wiring: " in row and " options parse |" in row, row
    assert (tmp_path / "out" / "gpu_check.md").read_text().strip() == "\n".join(
        line for line in run.stdout.splitlines() if line.startswith("|")
    )
    params = (tmp_path / "check" / "demo" / "params.yaml").read_text()
    assert "engine: hf" in params  # the demo's stages run on transformers


def test_a_wrong_option_fails_the_dry_runs_parse(tmp_path):
    """The dry run is a real check: a command line its script does not take is a FAILED row (and the script's exit 1)."""
    commands = tmp_path / "commands.tsv"
    commands.write_text(
        f"demo: prepare_base\t{ROOT / 'stages/prepare_base.py'}\t--iteration-zero x --out b --metrics m\n"
        f"demo: embed\t{ROOT / 'stages/embed.py'}\t--base b --iterations i --out o --embeddings e --prompts p --metrics m\n"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gpu_check.py"), "parse-all", str(commands)], capture_output=True, text=True
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stdout.splitlines() == [
        "demo: prepare_base\tFAILED: No such option '--iteration-zero'. Did you mean '--iteration0'?\t",
        "demo: embed\twiring: 6 options parse\t",
    ], run.stdout
