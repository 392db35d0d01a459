"""DVC stage `eval_downstream`: evaluation: fine-tune on one method's dataset, score on the held-out split.

The recipe is cycle_instruct.steps.eval_downstream.run; `python stages/eval_downstream.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_downstream import command

if __name__ == "__main__":
    command()
