"""DVC stage `view`: the run's view database, served by `cycle-instruct view`.

The recipe is cycle_instruct.steps.view.run; `python stages/view.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.view import command

if __name__ == "__main__":
    command()
