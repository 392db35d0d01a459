"""Prepare the base model: dequantize/convert it once into a local safetensors folder.

Iteration 0 of the dual self-training is this model with no adapter; its two marker
folders let every iteration k name iteration k-1 the same way in dvc.yaml.
"""

from ..models import prepare_base, write_no_adapter
from ..records import timed, write_json
from . import METRICS, TIMING, output, stage_command


def run(params, out, iteration0, metrics, timing=None):
    with timed(timing):
        info = prepare_base(params.model.base, out, params.model.allow_hub)
        for name in ("m_qa", "m_aq"):
            write_no_adapter(f"{iteration0}/{name}", "iteration 0 is the untuned base model")
        write_json(metrics, info)


command = stage_command(
    run,
    "prepare_base",
    "Convert the base model once into a local safetensors folder.",
    output("--out", required=True, help="folder for the converted base model"),
    output("--iteration0", required=True, help="folder for iteration 0's (empty) adapters"),
    METRICS,
    TIMING,
)
