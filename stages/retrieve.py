"""DVC stage `retrieve`: for each real question, the nearest answer paragraphs of the corpus (relabel.context: retrieved).

The recipe is cycle_instruct.steps.retrieve.run; `python stages/retrieve.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.retrieve import command

if __name__ == "__main__":
    command()
