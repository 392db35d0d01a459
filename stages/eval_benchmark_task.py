"""DVC stage `eval_benchmark_task`: evaluation: the held-out split as an lm-eval multiple-choice task.

The recipe is cycle_instruct.steps.eval_benchmark_task.run; `python stages/eval_benchmark_task.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_benchmark_task import command

if __name__ == "__main__":
    command()
