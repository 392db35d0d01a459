"""Fingerprint the models: model.base's and model.embedder's files (name, size, md5), one JSON each.

DVC runs this stage on every `dvc repro` (always_changed); prepare_base depends on the base's
file and the stages that load the embedder on the embedder's, so new weights in the same folder
re-run them, and unchanged weights (the same JSON) re-run nothing. A re-run reads no weights:
the md5s come from DVC's state database (cycle_instruct.model_fingerprint).
"""

from ..model_fingerprint import dvc_state, fingerprint
from ..records import write_json
from . import output, stage_command


def run(params, base, embedder):
    with dvc_state() as state:
        write_json(base, fingerprint(params.model.base, state))
        write_json(embedder, fingerprint(params.model.embedder, state))


command = stage_command(
    run,
    "fingerprint_models",
    "Record the files (name, size, md5) of model.base and model.embedder.",
    output("--base", required=True, help="JSON for model.base"),
    output("--embedder", required=True, help="JSON for model.embedder"),
)
