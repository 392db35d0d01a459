"""One module per DVC stage: `run`, the stage's recipe that tests call too, and `command`,
its options, which `stages/<name>.py` (what dvc.yaml runs) and the `cycle-instruct` CLI call.

A recipe reads top to bottom: read its inputs and params, call the building blocks of the
package, write outputs and metrics (atomically). Only recipes read `params`, one section
at a time, so that a test can check each stage declares in dvc.yaml what its code reads.
"""

import os
import shutil

import click

from ..errors import exit_on_user_error, stop_with_dvc
from ..params import load_params


def stage_command(run, name: str, help: str, *options: click.Option) -> click.Command:
    """The command line of a stage: validate params.yaml, then `run(params, **options)`.

    A UserError (bad input, bad params) ends it with one line per problem, never a traceback.
    """

    @exit_on_user_error
    def callback(**values):
        outputs = [values[o.name] for o in options if getattr(o, "is_output", False) and values[o.name]]
        before = {path: _state(path) for path in outputs}
        stop_with_dvc()
        try:
            run(load_params(), **values)
        except BaseException:
            _remove_written(before)
            raise

    return click.Command(name, callback=callback, help=help, params=list(options))


def _state(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _remove_written(before: dict) -> None:
    """A stage that fails leaves none of its outputs behind: each file is written atomically,
    and those this run already wrote are removed, so a stage's outputs are all or nothing."""
    for path, state in before.items():
        if _state(path) != state and os.path.lexists(path):
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


def option(*names: str, **settings) -> click.Option:
    return click.Option(list(names), **settings)


def output(*names: str, **settings) -> click.Option:
    """An option naming a file or folder the stage writes (removed again if the stage fails)."""
    opt = option(*names, **settings)
    opt.is_output = True
    return opt


PROMPTS = option(
    "--prompts",
    "prompt_files",
    multiple=True,
    required=True,
    help="a prompt template the stage uses (prompts/<name>.txt); repeat for each",
)
METRICS = output("--metrics", required=True, help="the stage's metrics (JSON)")
TIMING = output("--timing", help="where to write the stage's wall time (kept apart from its metrics)")
