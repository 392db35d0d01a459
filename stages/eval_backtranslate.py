"""DVC stage `eval_backtranslate`: evaluation: seed-driven back-translation baselines (Rand-k%, Clust-k%).

The recipe is cycle_instruct.steps.eval_backtranslate.run; `python stages/eval_backtranslate.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_backtranslate import command

if __name__ == "__main__":
    command()
