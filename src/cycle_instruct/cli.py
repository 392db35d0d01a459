"""`cycle-instruct`: run one pipeline stage by hand, or look at a dataset.

`dvc repro` is the normal way to run the pipeline; these commands run the same stage
scripts (stages/*.py of the project in the current folder) with the same arguments.
"""

import json
import runpy
import sys
from pathlib import Path

import click

STAGES = {
    "prepare_base": ("prepare_base.py", "Convert the base model once into a local safetensors folder."),
    "segment": ("segment.py", "Split raw documents into question and answer paragraphs."),
    "reformat": ("reformat.py", "Rewrite questions and answers with the base model."),
    "relabel": ("relabel.py", "Generate the missing side of records (pseudo-answers or pseudo-questions)."),
    "train_bwd": ("train.py", "Train the backward model M_AQ (response -> question) with LoRA."),
    "train_fwd": ("train.py", "Train the forward model M_QA (question -> response) with LoRA."),
    "embed": ("embed.py", "Reconstruct with the final models and measure cycle distances."),
    "prune": ("prune.py", "Cluster and drop the worst-reconstructed pairs (Cycle-Filt); write the summary."),
}


@click.group(help="Cycle-Instruct: seed-free instruction data from raw text. Run `dvc repro` for the whole pipeline.")
@click.version_option(package_name="cycle-instruct")
def main():
    pass


def _stage_command(name: str, script: str, help_text: str) -> click.Command:
    @click.pass_context
    def run(ctx):
        path = Path("stages") / script
        if not path.exists():
            raise click.ClickException(f"{path}: not found; run cycle-instruct from the project folder (the one with dvc.yaml)")
        extra = ["--direction", name[-3:]] if name.startswith("train_") else []
        sys.argv = [str(path), *extra, *ctx.args]
        runpy.run_path(str(path), run_name="__main__")

    return click.Command(
        name, callback=run, help=help_text + f" Runs stages/{script}; pass its options (see --help there).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    )


for _name, (_script, _help) in STAGES.items():
    main.add_command(_stage_command(_name, _script, _help))


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "count", default=5, show_default=True, help="how many pairs to show")
def show(dataset, count):
    """Print the first pairs of a dataset (e.g. data/final/cycle_filt.jsonl)."""
    with open(dataset, encoding="utf-8") as f:
        for line, _ in zip(f, range(count)):
            r = json.loads(line)
            real = r.get("original", "?")
            click.secho(f"[{r['id']}] original={real} iteration={r.get('iteration')} distance={r.get('distance')}", bold=True)
            click.echo(f"  instruction: {r.get('instruction')}")
            click.echo(f"  response:    {r.get('response')}\n")
