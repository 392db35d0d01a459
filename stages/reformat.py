"""DVC stage `reformat`: the base model rewrites questions into questions and answers into responses.

The recipe is cycle_instruct.steps.reformat.run; `python stages/reformat.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.reformat import command

if __name__ == "__main__":
    command()
