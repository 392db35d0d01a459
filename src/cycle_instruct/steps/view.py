"""View: the run as one SQLite database (data/view/run.db) that `cycle-instruct view` serves with
Datasette. A DVC output like the dataset, so `dvc pull view` on another machine gives the same view.
It reads the pipeline's files and writes nothing else."""

from pathlib import Path

from ..records import timed
from ..view import build
from . import TIMING, output, stage_command


def run(params, out, timing=None):
    with timed(timing):
        build(Path(), out, params.prune, params.chain)


command = stage_command(
    run,
    "view",
    "Build the run's view database (every pair, kept, pruned and rejected; the charts) for cycle-instruct view.",
    output("--out", required=True, help="the SQLite database (data/view/run.db)"),
    TIMING,
)
