"""DVC stage `decontaminate`: drop the pairs that share an n-gram with an evaluation benchmark.

The recipe is cycle_instruct.steps.decontaminate.run; `python stages/decontaminate.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.decontaminate import command

if __name__ == "__main__":
    command()
