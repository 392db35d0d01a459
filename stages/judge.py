"""DVC stage `judge` (optional, judge.enabled): the base model rates every Cycle-Filt pair 1-5.

The recipe is cycle_instruct.steps.judge.run; `python stages/judge.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.judge import command

if __name__ == "__main__":
    command()
