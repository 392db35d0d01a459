"""DVC stage `eval_sft_data`: evaluation: SFT reference datasets cut from the gold pairs.

The recipe is cycle_instruct.steps.eval_sft_data.run; `python stages/eval_sft_data.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.eval_sft_data import command

if __name__ == "__main__":
    command()
