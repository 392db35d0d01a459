"""DVC stage `summary`: the run's summary in keys that do not depend on the number of iterations.

The recipe is cycle_instruct.steps.summary.run; `python stages/summary.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.summary import command

if __name__ == "__main__":
    command()
