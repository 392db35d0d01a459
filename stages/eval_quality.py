"""DVC stage `eval_quality`: evaluation: relevance of every dataset's pairs (and the optional judge).

The recipe is cycle_instruct.steps.eval_quality.run; `python stages/eval_quality.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_quality import command

if __name__ == "__main__":
    command()
