"""Put this checkout's src/ first on sys.path, so a stage runs the code DVC hashes.

Without it, `python stages/x.py` would import whichever cycle_instruct is installed (an
older wheel, an editable install of another checkout), while DVC tracks this one's src/.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)
