"""DVC stage `eval_benchmark`: evaluation: lm-evaluation-harness on one method's model (base + LoRA adapter).

The recipe is cycle_instruct.steps.eval_benchmark.run; `python stages/eval_benchmark.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_benchmark import command

if __name__ == "__main__":
    command()
