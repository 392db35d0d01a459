"""DVC stage `prune`: Cycle-Filt: per k-means cluster, drop the pairs that reconstruct worst.

The recipe is cycle_instruct.steps.prune.run; `python stages/prune.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.prune import command

if __name__ == "__main__":
    command()
