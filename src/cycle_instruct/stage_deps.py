"""Each stage's code deps are the files its script imports: computed here, never edited by hand.

DVC reruns a stage when a dep changes, so a module a stage imports but does not list would leave
a stale dataset that DVC calls up to date. `cycle-instruct deps --write` rewrites the code deps
(`stages/*.py` and `src/**/*.py`) of every stage in dvc.yaml and eval/dvc.yaml from the imports,
read with `ast` and followed transitively; every other line of the files stays as it is.
`cycle-instruct deps` (no --write) only says whether they are in sync, and
tests/test_stage_deps.py checks the same against DVC's own reading of the stages.
"""

import ast
import os
import re
import shlex
from pathlib import Path

import yaml

from .errors import UserError

DVCFILES = ("dvc.yaml", "eval/dvc.yaml")
_CODE = re.compile(r"^(?:\.\./)*(?:stages|src)/.*\.py$")


def module_file(root: Path, name: str) -> Path | None:
    """The file of a cycle_instruct module ('cycle_instruct.steps.segment'), or None if not ours."""
    parts = name.split(".")
    if parts[0] != "cycle_instruct":
        return None
    base = root / "src" / Path(*parts)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_files(root: Path, script: Path) -> set[Path]:
    """The project files `script` runs: itself and what it imports, transitively (package
    __init__ files included, stages/ helpers such as _checkout.py too)."""
    package_dir = root / "src" / "cycle_instruct"
    seen, todo = set(), [script]
    while todo:
        current = todo.pop()
        if current in seen or not current.exists():
            continue
        seen.add(current)
        package = ".".join(current.relative_to(root / "src").with_suffix("").parts[:-1]) if package_dir in current.parents else ""
        for node in ast.walk(ast.parse(current.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    module = f"{anchor}.{node.module}" if node.module else anchor
                else:
                    module = node.module
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            for name in names:
                if current.parent == root / "stages" and (root / "stages" / f"{name}.py").exists():
                    todo.append(root / "stages" / f"{name}.py")
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # a.b.c imports a, a.b and a.b.c
                    f = module_file(root, ".".join(parts[:i]))
                    if f is not None and f.exists():
                        todo.append(f)
    return seen


def command_scripts(cmd: str, wdir: Path) -> list[Path]:
    """The .py files a stage's command runs, in order, following `cd X &&`."""
    found, cwd = [], wdir
    for part in (" && ".join(cmd) if isinstance(cmd, list) else cmd).split("&&"):  # dvc.yaml's cmd may be a list
        try:
            tokens = shlex.split(part)
        except ValueError:  # unbalanced quotes: dvc's shell would refuse it; no script read from it
            continue
        if tokens[:1] == ["cd"]:
            cwd = (cwd / tokens[1]).resolve() if len(tokens) > 1 else cwd
            continue
        found += [(cwd / t).resolve() for t in tokens if t.endswith(".py")]
    return found


def code_deps(root: Path, dvcfile: Path) -> dict[str, list[str]]:
    """For each stage of `dvcfile`: its code deps as dvc.yaml writes them (relative to the file's
    folder): the scripts in command order, the other stages/ files, then src/ sorted."""
    stages = (yaml.safe_load(dvcfile.read_text(encoding="utf-8")) or {}).get("stages", {})
    wdir = dvcfile.parent.resolve()
    deps = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        scripts = command_scripts(body["cmd"], wdir)
        files = set().union(*(imported_files(root.resolve(), s) for s in scripts)) if scripts else set()
        rest = sorted(files - set(scripts), key=lambda p: (root.resolve() / "src" in p.parents, str(p)))
        deps[name] = [_relative(p, wdir) for p in dict.fromkeys([*scripts, *rest])]
    return deps


def _relative(path: Path, wdir: Path) -> str:
    return Path(os.path.relpath(path, wdir)).as_posix()


def rewrite(text: str, deps: dict[str, list[str]]) -> str:
    """`text` (a dvc.yaml) with each stage's code deps replaced by `deps[stage]`: the other deps
    keep their order, and the code deps go where the first one was (else at the end of the list)."""
    lines, out, stage, i = text.splitlines(keepends=True), [], None, 0
    while i < len(lines):
        line = lines[i]
        top = re.match(r"^  ([\w@-]+):\s*$", line)
        if top:
            stage = top.group(1)
        block = re.match(r"^(\s+)deps:\s*$", line)
        if not (block and stage in deps):
            out.append(line)
            i += 1
            continue
        out.append(line)
        i += 1
        items, indent = [], None
        while i < len(lines) and (m := re.match(r"^(\s*)- (.+?)\s*$", lines[i])) and len(m.group(1)) >= len(block.group(1)):
            indent = m.group(1)
            items.append(m.group(2))
            i += 1
        indent = indent or block.group(1) + "  "
        first_code = next((k for k, item in enumerate(items) if _CODE.match(item)), len(items))
        others = [item for item in items if not _CODE.match(item)]
        placed = others[:first_code] + deps[stage] + others[first_code:]
        out += [f"{indent}- {item}\n" for item in placed]
    return "".join(out)


def _without_code(stages: dict) -> dict:
    """The stages with their code deps taken out: what a rewrite must leave as it was."""
    bodies = {name: dict(stage.get("do", stage)) for name, stage in stages.items()}
    return {
        name: {**body, "deps": [d for d in body.get("deps") or [] if not _CODE.match(str(d))]} for name, body in bodies.items()
    }


def _stale(root: Path):
    """(name, path, rewritten text) of each dvc.yaml whose code deps differ from the imports.

    The rewrite works on lines (to keep comments and layout), so it is checked on the parsed YAML:
    everything but the code deps unchanged, and the code deps those computed. A layout it cannot
    read (a flow list `deps: [a, b]`, a comment inside a list) is refused, never written half right."""
    for name in DVCFILES:
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        deps = code_deps(root, path)
        new = rewrite(text, deps)
        before, after = (yaml.safe_load(t).get("stages", {}) for t in (text, new))
        got = {
            stage: [d for d in (body.get("do", body).get("deps") or []) if _CODE.match(str(d))] for stage, body in after.items()
        }
        if _without_code(before) != _without_code(after) or got != deps:
            raise UserError(
                f"{name}: cannot rewrite its code deps safely (a deps list written in a way it does not read, such as "
                "[a, b] or with comments inside); write each dep on its own '- ' line"
            )
        if new != text:
            yield name, path, new


def out_of_sync(root: Path) -> list[str]:
    """One line per dvc.yaml whose code deps differ from the imports, or nothing."""
    return [f"{name}: code deps differ from the imports; run cycle-instruct deps --write" for name, _, _ in _stale(root)]


def write(root: Path) -> list[str]:
    """Rewrite the code deps of every dvc.yaml in place (atomically); the files changed."""
    changed = []
    for name, path, new in list(_stale(root)):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)
        changed.append(name)
    return changed
