"""DVC stage `relabel`: the missing side of every record: pseudo-answers (M_QA of k-1) or pseudo-questions (M_AQ of k).

The recipe is cycle_instruct.steps.relabel.run; `python stages/relabel.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.relabel import command

if __name__ == "__main__":
    command()
