"""Read params.yaml: configuration is data; every stage reads its own section."""

from pathlib import Path

import yaml

from .errors import UserError


def load_params(path="params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found; run from the project folder (the one with dvc.yaml)")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]}); fix the file")
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    return params


def section(params: dict, name: str, path="params.yaml") -> dict:
    if not isinstance(params.get(name), dict):
        raise UserError(f"{path}: missing section '{name}:'; see the params reference in README.md")
    return params[name]


def iteration_chain(params: dict, path="params.yaml") -> list[int]:
    """The iterations in run order, checked to form one chain that starts at 0 (the base model)."""
    items = section(params, "iterations", path)
    prev_of = {}
    for key, item in items.items():
        if not isinstance(key, str):
            # DVC's foreach silently skips non-string keys: the iteration would never run
            raise UserError(f'{path}: iteration key {key} must be quoted ("{key}": {{prev: ...}}) or DVC skips it')
        if not isinstance(item, dict) or "prev" not in item:
            raise UserError(f"{path}: iterations.{key} needs a 'prev:' naming the previous iteration (0 = base model)")
        prev_of[int(key)] = int(item["prev"])
    chain, current = [], 0
    while True:
        nxt = [k for k, p in prev_of.items() if p == current]
        if not nxt:
            break
        if len(nxt) > 1:
            raise UserError(f"{path}: iterations {nxt} all name {current} as prev; the iterations must form one chain")
        chain.append(nxt[0])
        current = nxt[0]
    if len(chain) != len(prev_of):
        orphans = sorted(set(prev_of) - set(chain))
        raise UserError(f"{path}: iterations {orphans} are not reachable from 0; each 'prev:' must name an existing iteration")
    return chain
