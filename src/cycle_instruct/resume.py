"""Per-record resume: finished generations survive a crash and are not generated again.

Each batch's results are appended (and flushed) to a partial file as soon as it finishes.
The file starts with a fingerprint of everything that shapes the results: the prompts
(so the inputs and the prompt wording), the sampling params, the engine, and the base
model's and adapter's files. A rerun of the stage with the same fingerprint takes the
batches it finds and generates only the rest; a file with another fingerprint is
discarded, never mixed in. Partial files live in .partial/ (ignored by git and DVC) and
are removed once the stage's output is written.
"""

import hashlib
import json
import os
from pathlib import Path

PARTIAL_DIR = Path(".partial")


def files_identity(folder) -> list:
    """Name, size and modification time of every file under `folder`: cheap, and changes with any rewrite."""
    if folder is None or not Path(folder).exists():
        return [str(folder)]
    root = Path(folder)
    return sorted([str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in root.rglob("*") if p.is_file())


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def partial_path(name, folder=PARTIAL_DIR) -> Path:
    """The partial file of a stage output (`name`: its path)."""
    return Path(folder) / (str(name).replace("/", "_").strip("._") + ".partial.jsonl")


def clear(name) -> None:
    """The output is written: its partial file has served."""
    partial_path(name).unlink(missing_ok=True)


class Partial:
    """Finished batches of one stage output: {batch number: [result dicts]}."""

    def __init__(self, name, key: str, folder=PARTIAL_DIR):
        self.path = partial_path(name, folder)
        self.key, self.batches = key, {}
        self._load()

    def _load(self):
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            header = {}
        if header.get("fingerprint") != self.key:
            print(f"warning: {self.path}: made with other inputs, params or models; discarded", flush=True)
            self.path.unlink()
            return
        for n, line in enumerate(lines[1:], 2):
            try:
                entry = json.loads(line)
                self.batches[int(entry["batch"])] = entry["results"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                print(
                    f"warning: {self.path}:{n}: cut or corrupt line (a crash mid-write); that batch is generated again",
                    flush=True,
                )
                break
        self._rewrite()  # drop what could not be read, so appends follow whole lines

    def _rewrite(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps({"fingerprint": self.key}) + "\n")
            for batch, results in sorted(self.batches.items()):
                f.write(json.dumps({"batch": batch, "results": results}, ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)

    def add(self, batch: int, results: list[dict]) -> None:
        self.batches[batch] = results
        if not self.path.exists():
            self._rewrite()
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"batch": batch, "results": results}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
