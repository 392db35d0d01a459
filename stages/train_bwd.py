"""DVC stage `train_bwd`: train M_AQ (response -> question) with LoRA on the pseudo-answers.

The recipe is cycle_instruct.steps.train.run; `python stages/train_bwd.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.train import command_bwd

if __name__ == "__main__":
    command_bwd()
