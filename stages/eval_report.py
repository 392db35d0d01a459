"""DVC stage `eval_report`: evaluation: the comparison table and the data of its plots.

The recipe is cycle_instruct.steps.eval_report.run; `python stages/eval_report.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_report import command

if __name__ == "__main__":
    command()
