"""A copy of this checkout's pipeline in a fresh git + DVC repo.

Tests and benchmarks run `dvc repro` there, on a corpus of their own, never in the checkout.
"""

import shutil
import subprocess
from pathlib import Path

import yaml

from .params import _merge

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_FILES = (
    "dvc.yaml",
    "params.yaml",
    ".dvcignore",
    ".gitignore",
    "prompts",
    "stages",
    "src",
    ".dvc/config",
    ".dvc/.gitignore",
    "eval/dvc.yaml",
    "eval/.dvcignore",
    "eval/.dvc/config",
    "eval/.dvc/.gitignore",
)
REPLACED_WHOLE = {("iterations",), ("eval", "sft"), ("eval", "seeds")}  # collections of the user's own keys


def params_yaml(overrides: dict, source: Path = ROOT) -> dict:
    """The shipped params.yaml (the one place defaults live) with values changed per section.

    Sections are merged key by key (segment.fields too); the collections in REPLACED_WHOLE
    (iterations, eval.sft, eval.seeds) are replaced whole, as a user writing them would.
    """
    return _merge(yaml.safe_load((source / "params.yaml").read_text()), overrides, REPLACED_WHOLE)


def write_params(folder: Path, overrides: dict, source: Path = ROOT) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params_yaml(overrides, source), sort_keys=False, allow_unicode=True))
    return path


def make_project(root: Path, overrides: dict, cache_dir: Path | None, corpus: dict[str, str | Path], source: Path = ROOT) -> Path:
    """This repo's pipeline (or that of the checkout at `source`) in a fresh git repo at `root`,
    with params overridden per section.

    `corpus` maps paths inside the project to text (or a file to copy) to put there. Projects
    that share `cache_dir` share DVC's run-cache, so a stage an earlier project already ran
    with the same inputs (prepare_base) is restored instead of run again.
    """
    from .plots import write_offline_template

    for name in PIPELINE_FILES:
        src, dst = source / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir() else shutil.copy(src, dst)
    for rel, content in corpus.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(content, root / rel) if isinstance(content, Path) else (root / rel).write_text(content)
    write_params(root, overrides, source)
    template = ROOT / ".dvc" / "plots_offline.html"
    shutil.copy(template, root / ".dvc") if template.exists() else write_offline_template(root / ".dvc" / "plots_offline.html")
    commands = [(["git", "init", "-q"], root)]
    if cache_dir is not None:
        commands += [
            (["dvc", "config", "--local", "cache.dir", str(cache_dir)], root),
            (["dvc", "config", "--local", "cache.dir", str(cache_dir)], root / "eval"),
        ]  # the eval subrepo shares it
    commands += [
        (["git", "add", "-A"], root),
        (["git", "-c", "user.name=cycle-instruct", "-c", "user.email=cycle-instruct@localhost", "commit", "-qm", "init"], root),
    ]
    for cmd, cwd in commands:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return root
