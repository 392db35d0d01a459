"""DVC stage `train_fwd`: train M_QA (question -> response) with LoRA on the pseudo-questions.

The recipe is cycle_instruct.steps.train.run; `python stages/train_fwd.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.train import command_fwd

if __name__ == "__main__":
    command_fwd()
