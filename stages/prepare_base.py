"""DVC stage `prepare_base`: convert the base model once into a local safetensors folder; iteration 0's empty adapters.

The recipe is cycle_instruct.steps.prepare_base.run; `python stages/prepare_base.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.prepare_base import command

if __name__ == "__main__":
    command()
