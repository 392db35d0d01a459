"""Prepare the base model: dequantize/convert it once into a local safetensors folder.

Iteration 0 of the dual self-training is this model with no adapter; its two marker
folders let every iteration k name iteration k-1 the same way in dvc.yaml.
"""

import time

import click

from cycle_instruct.errors import exit_on_user_error
from cycle_instruct.models import prepare_base, write_no_adapter
from cycle_instruct.params import load_params, section
from cycle_instruct.records import write_json


@click.command()
@click.option("--out", required=True, help="folder for the converted base model")
@click.option("--iteration0", required=True, help="folder for iteration 0's (empty) adapters")
@click.option("--metrics", required=True)
@exit_on_user_error
def main(out, iteration0, metrics):
    start = time.perf_counter()
    model_params = section(load_params(), "model")
    info = prepare_base(model_params["base"], out)
    for name in ("m_qa", "m_aq"):
        write_no_adapter(f"{iteration0}/{name}", "iteration 0 is the untuned base model")
    write_json(metrics, {**info, "wall_seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
