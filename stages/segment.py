"""DVC stage `segment`: raw documents -> unpaired question and answer paragraphs (+ gold pairs where the input has them).

The recipe is cycle_instruct.steps.segment.run; `python stages/segment.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.segment import command

if __name__ == "__main__":
    command()
