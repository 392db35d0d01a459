"""DVC stage `fingerprint_models`: the files (name, size, md5) of model.base and model.embedder, so a model changed in place re-runs its stages.

The recipe is cycle_instruct.steps.fingerprint_models.run; `python stages/fingerprint_models.py --help` lists the options.
"""

import _checkout  # noqa: F401  (this checkout's src/ first on sys.path)
from cycle_instruct.steps.fingerprint_models import command

if __name__ == "__main__":
    command()
