"""What fingerprint_models costs on a large model: the first hash of a weights file against every run after it.

The stage hashes model.base's and model.embedder's files on every `dvc repro`; DVC's state database
(keyed by inode, mtime and size) is what keeps the runs after the first from reading the weights again.
This writes one file of --gib GiB of random bytes in a fresh DVC project, fingerprints the folder
twice, and prints both times, the first hash's read rate and the ratio of the two.

    python benchmarks/fingerprint.py --gib 2
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe  # benchmarks/ is on sys.path when this script runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cycle_instruct.model_fingerprint import dvc_state, fingerprint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the weights file")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        subprocess.run(["git", "init", "-q"], check=True)
        subprocess.run(["dvc", "init", "-q"], check=True)
        model = Path("model")
        model.mkdir()
        with open(model / "model.safetensors", "wb") as f:
            for _ in range(int(args.gib * 1024)):
                f.write(os.urandom(2**20))
        (model / "config.json").write_text('{"model_type": "llama"}')
        times = []
        for _ in range(2):
            start = time.perf_counter()
            with dvc_state() as state:
                first = fingerprint(str(model), state)
            times.append(time.perf_counter() - start)
        assert first["files"]["model.safetensors"]["size"] == int(args.gib * 1024) * 2**20
    print(
        f"{args.gib:g} GiB: first fingerprint {times[0]:.2f} s ({args.gib * 1024 / times[0]:.0f} MiB/s read), "
        f"second {times[1]:.3f} s: {times[0] / times[1]:.0f}x faster with DVC's state"
    )


if __name__ == "__main__":
    main()
