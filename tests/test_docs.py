"""The documentation: every params key described once in the schema, and the site builds with no broken link."""

import importlib.util
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from cycle_instruct.params import Params

ROOT = Path(__file__).resolve().parents[1]


def _models(model: type[BaseModel], seen=None):
    """Every section model reachable from `model`, nested sections and mappings of sections too."""
    seen = seen if seen is not None else {}
    seen[model.__name__] = model
    for field in model.model_fields.values():
        for kind in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.__name__ not in seen:
                _models(kind, seen)
    return seen.values()


def test_every_params_field_has_a_description():
    undescribed = [
        f"{model.__name__}.{name}"
        for model in _models(Params)
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert undescribed == []


def _leaf_keys(values, prefix=""):
    for key, value in values.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in ("iterations", "eval.sft", "eval.seeds"):  # mappings of your names
            yield from _leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_the_params_page_lists_every_key_of_params_yaml():
    spec = importlib.util.spec_from_file_location("params_reference", ROOT / "docs/hooks/params_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.render(ROOT / "params.yaml")
    keys = list(_leaf_keys(yaml.safe_load((ROOT / "params.yaml").read_text())))
    assert "train.lr" in keys and "segment.fields.records" in keys
    assert [k for k in keys if f"| `{k}` |" not in page] == []
    assert "| `train.lr` | float, > 0 | `0.002` | Peak learning rate" in page  # type, value in params.yaml, description


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed (pip install -e '.[docs]'; make test installs them)",
)
def test_the_docs_build_with_no_broken_link(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "site/params/index.html").read_text(encoding="utf-8")
    assert "segment.question_rule" in page and "Paper: <code>contains</code>" in page  # the generated reference is in the site
