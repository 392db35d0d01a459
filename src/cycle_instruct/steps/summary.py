"""Summary: the run in keys that do not depend on the number of iterations, so that
`dvc metrics diff` between a T=1 run and a T=2 run shows what the extra iteration changed."""

from ..records import timed, write_json
from ..summary import summarize_run
from . import TIMING, option, output, stage_command


def run(params, metrics_dir, out, timing=None):
    with timed(timing):
        write_json(out, summarize_run(metrics_dir, params.chain))


command = stage_command(
    run,
    "summary",
    "Summarize the run's metrics in keys that do not depend on the number of iterations.",
    option("--metrics-dir", required=True, help="the stages' metrics"),
    output("--out", required=True),
    TIMING,
)
