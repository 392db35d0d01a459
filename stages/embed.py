"""DVC stage `embed`: reconstruct with the final models and measure each pair's cycle distance.

The recipe is cycle_instruct.steps.embed.run; `python stages/embed.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.embed import command

if __name__ == "__main__":
    command()
