"""One module per DVC stage: `run`, the stage's recipe that tests call too, and `command`,
its options, which `stages/<name>.py` (what dvc.yaml runs) and the `cycle-instruct` CLI call.

A recipe reads top to bottom: read its inputs and params, call the building blocks of the
package, write outputs and metrics (atomically). Only recipes read `params`, one section
at a time, so that a test can check each stage declares in dvc.yaml what its code reads.
"""

import click

from ..errors import exit_on_user_error
from ..params import load_params


def stage_command(run, name: str, help: str, *options: click.Option) -> click.Command:
    """The command line of a stage: validate params.yaml, then `run(params, **options)`.

    A UserError (bad input, bad params) ends it with one line per problem, never a traceback.
    """

    @exit_on_user_error
    def callback(**values):
        run(load_params(), **values)

    return click.Command(name, callback=callback, help=help, params=list(options))


def option(*names: str, **settings) -> click.Option:
    return click.Option(list(names), **settings)


METRICS = option("--metrics", required=True, help="the stage's metrics (JSON)")
TIMING = option("--timing", help="where to write the stage's wall time (kept apart from its metrics)")
