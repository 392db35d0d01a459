"""Deps = imports: every stage of dvc.yaml and eval/dvc.yaml declares the code and params it reads.

For each stage, as DVC reads it, the project modules its script imports (transitively, read
with `ast`; `cycle-instruct deps --write` writes them) must be exactly its `src`/`stages` deps, the params sections its recipe reads must be
exactly its `params`, and every path its command passes that is not an output must be a
dep. Otherwise a change to a prompt or a rejection rule could leave a stale cached
dataset that DVC calls up to date.
"""

import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cycle_instruct import stage_deps
from cycle_instruct.errors import UserError

from conftest import ROOT

PACKAGE = ROOT / "src" / "cycle_instruct"
PARAMS_ALIASES = {  # Params members that read sections
    "chain": ["iterations"],
    "check_eval_methods": ["eval.methods", "eval.sft", "eval.seeds", "iterations"],
}


def imported_files(path: Path) -> set[Path]:
    return stage_deps.imported_files(ROOT, path)


def params_read(files: set[Path]) -> set[str]:
    """`params.<section>` and `params.<section>.<key>` read in the recipes (cycle_instruct.steps)."""
    found = set()
    for f in files:
        if f.parent.name != "steps":
            continue
        tree = ast.parse(f.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "params":
                if node.attr in PARAMS_ALIASES:
                    found.update(PARAMS_ALIASES[node.attr])
                    continue
                parent = parents.get(node)
                # params.train.lr reads train.lr; params.train passed on whole reads all of train
                found.add(f"{node.attr}.{parent.attr}" if isinstance(parent, ast.Attribute) else node.attr)
    return found


def stages_of(dvcfile: Path):
    from dvc.repo import Repo

    repo = Repo(str(dvcfile.parent))
    return [s for s in repo.index.stages if Path(s.path) == dvcfile.resolve()]


def command_words(stage) -> list[tuple[Path, str]]:
    """(folder it runs in, word) for each word of the stage's command, following `cd X &&`."""
    words, cwd = [], Path(stage.wdir)
    for part in stage.cmd.split("&&"):
        tokens = shlex.split(part)
        if tokens[:1] == ["cd"]:
            cwd = (cwd / tokens[1]).resolve()
            continue
        words += [(cwd, t) for t in tokens]
    return words


def scripts(stage) -> list[Path]:
    return [(cwd / word).resolve() for cwd, word in command_words(stage) if word.endswith(".py")]


def declared(stage):
    deps, params = set(), set()
    for dep in stage.deps:
        if type(dep).__name__ == "ParamsDependency":
            params |= {p for p in (dep.params or [])}
        else:
            deps.add(Path(dep.fs_path).resolve())
    return deps, params


DVCFILES = [ROOT / "dvc.yaml", ROOT / "eval" / "dvc.yaml"]
STAGES = [(f, s) for f in DVCFILES for s in stages_of(f)]


@pytest.mark.parametrize("stage", [s for _, s in STAGES], ids=[s.addressing for _, s in STAGES])
def test_code_deps_are_the_imports(stage):
    code = set().union(*(imported_files(p) for p in scripts(stage)))
    deps, _ = declared(stage)
    declared_code = {d for d in deps if d.suffix == ".py" and (ROOT / "src" in d.parents or ROOT / "stages" in d.parents)}
    rel = lambda paths: sorted(str(p.relative_to(ROOT)) for p in paths)  # noqa: E731
    assert rel(code - declared_code) == [], "imported but not a dep"
    assert rel(declared_code - code) == [], "a dep but not imported"


@pytest.mark.parametrize("stage", [s for _, s in STAGES], ids=[s.addressing for _, s in STAGES])
def test_no_dep_is_listed_twice(stage):
    paths = [dep.def_path for dep in stage.deps if type(dep).__name__ != "ParamsDependency"]
    assert sorted({p for p in paths if paths.count(p) > 1}) == []


@pytest.mark.parametrize("stage", [s for _, s in STAGES], ids=[s.addressing for _, s in STAGES])
def test_params_deps_are_the_sections_read(stage):
    code = set().union(*(imported_files(p) for p in scripts(stage)))
    read = params_read(code)
    _, params = declared(stage)
    assert sorted(k for k in read if not any(k == d or k.startswith(d + ".") for d in params)) == [], (
        "read but not declared in params:"
    )
    assert sorted(d for d in params if not any(k == d or k.startswith(d + ".") or d.startswith(k + ".") for k in read)) == [], (
        "declared in params: but never read"
    )


@pytest.mark.parametrize("stage", [s for _, s in STAGES], ids=[s.addressing for _, s in STAGES])
def test_every_input_path_of_the_command_is_a_dep(stage):
    deps, _ = declared(stage)
    outs = {Path(o.fs_path).resolve() for o in stage.outs}
    for cwd, token in command_words(stage):
        if "/" not in token or token.startswith("-") or re.search(r"[$&|;]", token):
            continue
        path = (cwd / token).resolve()
        if any(path == o or o in path.parents or path in o.parents for o in outs):
            continue  # an output, a file inside one, or the folder that holds outputs
        # a dep, a file inside one, or a root folder under which the command reads a declared dep
        assert any(path == d or d in path.parents or path in d.parents for d in deps), (
            f"{token} is read by the command but is not a dep"
        )


def test_a_stage_runs_this_checkouts_code_whatever_is_installed(tmp_path):
    """DVC hashes this checkout's src/; the stage must run that, not another copy on sys.path."""
    import os
    import subprocess
    import sys

    from conftest import write_params

    elsewhere = tmp_path / "elsewhere" / "cycle_instruct"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text('raise SystemExit("another copy of cycle_instruct ran")\n')
    env = {**os.environ, "PYTHONPATH": str(elsewhere.parent)}
    shadowed = subprocess.run(
        [sys.executable, "-c", "import cycle_instruct"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert "another copy of cycle_instruct ran" in shadowed.stderr  # it really is first on sys.path

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.txt").write_text("What is it?\n\nA tool.\n")
    write_params(tmp_path, {"segment": {"input": "docs"}})
    outs = ["--questions", "q.jsonl", "--answers", "a.jsonl", "--gold", "g.jsonl", "--test", "t.jsonl", "--metrics", "m.json"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "segment.py"), *outs], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "q.jsonl").read_text().count("What is it?") == 1


def test_the_committed_code_deps_are_what_deps_write_writes():
    assert stage_deps.out_of_sync(ROOT) == []


def test_deps_write_puts_back_a_missing_dep_and_drops_a_stale_one(tmp_path):
    """A user who adds an import to a recipe runs `cycle-instruct deps --write`, and dvc.yaml follows."""
    for name in ("src", "stages", "eval"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "data", "metrics", ".dvc"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    original = (tmp_path / "dvc.yaml").read_text()
    assert "      - src/cycle_instruct/overlap.py\n" in original
    mutated = original.replace("      - src/cycle_instruct/overlap.py\n", "", 1)
    mutated = mutated.replace(
        "      - src/cycle_instruct/segment.py\n",
        "      - src/cycle_instruct/segment.py\n      - src/cycle_instruct/gone.py\n",
        1,
    )
    (tmp_path / "dvc.yaml").write_text(mutated)
    cli = [sys.executable, "-m", "cycle_instruct.cli", "deps"]
    env = {"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"}
    check = subprocess.run(cli, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert check.returncode == 1
    assert check.stderr.strip().splitlines() == [
        "error: dvc.yaml: code deps differ from the imports; run cycle-instruct deps --write"
    ]
    written = subprocess.run([*cli, "--write"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "dvc.yaml").read_text() == original
    again = subprocess.run(cli, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert (again.returncode, again.stdout.strip()) == (0, "code deps match the imports")


@pytest.mark.parametrize("dvcfile", DVCFILES, ids=lambda f: str(f.relative_to(ROOT)))
def test_the_diagram_at_the_top_names_every_stage(dvcfile):
    import yaml

    text = dvcfile.read_text()
    header = text[: text.index("\nstages:")]
    diagram = " ".join(line for line in header.splitlines() if line.startswith("#"))
    stages = yaml.safe_load(text)["stages"]
    assert [s for s in stages if not re.search(rf"\b{s}\b", diagram)] == []


def test_deps_write_reads_dvcs_own_list_style_and_refuses_what_it_cannot_read(tmp_path):
    """`dvc stage add` writes list items at the indent of `deps:`; a flow list [a, b] is refused, never half written."""
    for name in ("src", "stages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    dvc_style = "stages:\n  summary:\n    cmd: python stages/summary.py\n    deps:\n    - metrics\n    - stages/summary.py\n"
    (tmp_path / "dvc.yaml").write_text(dvc_style)
    assert stage_deps.write(tmp_path) == ["dvc.yaml"]
    written = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]["summary"]["deps"]
    assert written[:3] == ["metrics", "stages/summary.py", "stages/_checkout.py"] and "src/cycle_instruct/summary.py" in written
    (tmp_path / "dvc.yaml").write_text("stages:\n  summary:\n    cmd: python stages/summary.py\n    deps: [metrics]\n")
    with pytest.raises(UserError, match="dvc.yaml: cannot rewrite its code deps safely"):
        stage_deps.write(tmp_path)
    assert (tmp_path / "dvc.yaml").read_text().endswith("deps: [metrics]\n")
