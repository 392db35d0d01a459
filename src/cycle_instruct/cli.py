"""`cycle-instruct`: run one pipeline stage by hand, check params.yaml, or look at a dataset.

`dvc repro` is the normal way to run the pipeline; `cycle-instruct <stage>` calls the same
recipe (cycle_instruct.steps.<stage>) with the same options as `stages/<stage>.py`.
"""

import importlib
import json
import sys
from pathlib import Path

import click

from .errors import UserError, exit_on_user_error
from .params import load_params

STAGES = {  # command name: (module in cycle_instruct.steps, click command in it)
    "prepare_base": ("prepare_base", "command"),
    "segment": ("segment", "command"),
    "reformat": ("reformat", "command"),
    "relabel": ("relabel", "command"),
    "train_bwd": ("train", "command_bwd"),
    "train_fwd": ("train", "command_fwd"),
    "embed": ("embed", "command"),
    "prune": ("prune", "command"),
    "summary": ("summary", "command"),
}


class _Stages(click.Group):
    """Stage commands are imported only when used: most of them load torch."""

    def list_commands(self, ctx):
        return sorted(super().list_commands(ctx)) + list(STAGES)

    def get_command(self, ctx, name):
        if name in STAGES:
            if "--help" not in sys.argv:  # help works anywhere
                exit_on_user_error(check_project_folder)(Path.cwd())
            module, attr = STAGES[name]
            return getattr(importlib.import_module(f"cycle_instruct.steps.{module}"), attr)
        return super().get_command(ctx, name)


def check_project_folder(cwd: Path) -> None:
    """Stages read params.yaml and write data/ relative to the project folder: run only there."""
    if (cwd / "dvc.yaml").is_file() and (cwd / "params.yaml").is_file():
        return
    root = next((p for p in cwd.parents if (p / "dvc.yaml").is_file() and (p / "params.yaml").is_file()), None)
    where = f"cd {root} first" if root else "cd to the project folder (the one with dvc.yaml and params.yaml), or create one with git clone"
    raise UserError(f"{cwd}: not a cycle-instruct project folder (no dvc.yaml and params.yaml here); {where}")


@click.group(cls=_Stages, help="Cycle-Instruct: seed-free instruction data from raw text. Run `dvc repro` for the whole pipeline.")
@click.version_option(package_name="cycle-instruct")
def main():
    pass


@main.command()
@click.option("--params", "path", default="params.yaml", show_default=True, type=click.Path(dir_okay=False))
@exit_on_user_error
def check(path):
    """Validate params.yaml: every key, type and range, and the iteration chain."""
    params = load_params(path)
    click.echo(f"{path}: ok ({len(params.chain)} iterations: {' -> '.join(['0', *map(str, params.chain)])})")


@main.command("plots-template")
@click.option("--out", default=".dvc/plots_offline.html", show_default=True, type=click.Path(dir_okay=False),
              help="where .dvc/config's plots.html_template points (eval/.dvc/config points here too)")
@exit_on_user_error
def plots_template(out):
    """Write the HTML template that lets `dvc plots show` render offline (vega inline)."""
    from .plots import write_offline_template

    click.echo(f"{write_offline_template(out)}: offline template for dvc plots show")


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


if __name__ == "__main__":
    main()
