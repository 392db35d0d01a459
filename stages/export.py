"""DVC stage `export`: the Cycle-Filt pairs in common formats, with a dataset card.

The recipe is cycle_instruct.steps.export.run; `python stages/export.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.export import command

if __name__ == "__main__":
    command()
