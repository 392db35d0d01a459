"""`cycle-instruct`: run one pipeline stage by hand, check params.yaml, or look at a dataset.

`dvc repro` is the normal way to run the pipeline; `cycle-instruct <stage>` calls the same
recipe (cycle_instruct.steps.<stage>) with the same options as `stages/<stage>.py`.
"""

import importlib
import itertools
import json
import sys
from pathlib import Path

import click

from .errors import UserError, exit_on_user_error
from .params import load_params

STAGES = {  # command name: (module in cycle_instruct.steps, click command in it)
    "fingerprint_models": ("fingerprint_models", "command"),
    "prepare_base": ("prepare_base", "command"),
    "segment": ("segment", "command"),
    "reformat": ("reformat", "command"),
    "relabel": ("relabel", "command"),
    "train_bwd": ("train", "command_bwd"),
    "train_fwd": ("train", "command_fwd"),
    "embed": ("embed", "command"),
    "prune": ("prune", "command"),
    "decontaminate": ("decontaminate", "command"),
    "judge": ("judge", "command"),
    "export": ("export", "command"),
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
    where = (
        f"cd {root} first"
        if root
        else "cd to the project folder (the one with dvc.yaml and params.yaml), or create one with git clone"
    )
    raise UserError(f"{cwd}: not a cycle-instruct project folder (no dvc.yaml and params.yaml here); {where}")


@click.group(
    cls=_Stages, help="Cycle-Instruct: seed-free instruction data from raw text. Run `dvc repro` for the whole pipeline."
)
@click.version_option(package_name="cycle-instruct")
def main():
    pass


@main.command()
@click.option("--params", "path", default="params.yaml", show_default=True, type=click.Path(dir_okay=False))
@exit_on_user_error
def check(path):
    """Validate params.yaml: every key, type and range, and the iteration chain."""
    params = load_params(path)
    plural = "s" if len(params.chain) > 1 else ""
    click.echo(f"{path}: ok ({len(params.chain)} iteration{plural}: {' -> '.join(['0', *map(str, params.chain)])})")


@main.command()
@click.option("--write", is_flag=True, help="rewrite the code deps of dvc.yaml and eval/dvc.yaml from the imports")
@exit_on_user_error
def deps(write):
    """Check (or --write) that each stage's code deps in dvc.yaml are exactly the files it imports."""
    from . import stage_deps

    check_project_folder(Path.cwd())
    if write:
        changed = stage_deps.write(Path.cwd())
        click.echo(f"rewrote the code deps of {', '.join(changed)}" if changed else "code deps already match the imports")
        return
    problems = stage_deps.out_of_sync(Path.cwd())
    if problems:
        raise UserError("; ".join(problems))
    click.echo("code deps match the imports")


@main.command("plots-template")
@click.option(
    "--out",
    default=".dvc/plots_offline.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="where .dvc/config's plots.html_template points (eval/.dvc/config points here too)",
)
@exit_on_user_error
def plots_template(out):
    """Write the HTML template that lets `dvc plots show` render offline (vega inline)."""
    from .plots import write_offline_template

    click.echo(f"{write_offline_template(out)}: offline template for dvc plots show")


FILTERED = "data/final/cycle_filt.jsonl"
REAL = {"question": "instruction", "answer": "response"}  # show --side: which side is the real text
SIDES = {"instruction": "real question, generated answer", "response": "real answer, generated question"}


@main.command()
@click.argument("dataset", default=FILTERED, type=click.Path(dir_okay=False))
@click.option("-n", "count", default=5, show_default=True, help="how many pairs to show")
@click.option(
    "--sort", type=click.Choice(["distance", "-distance"]), help="distance: best reconstructed first; -distance: worst first"
)
@click.option("--worst", is_flag=True, help="worst reconstructed first (the same as --sort=-distance)")
@click.option("--pruned", is_flag=True, help="the pairs the filter dropped instead: pruned.jsonl beside the dataset")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(importlib.import_module("cycle_instruct.export").JSONL_FORMATS),
    help="print each pair as a line of that export format",
)
@click.option(
    "--side",
    type=click.Choice(["question", "answer"]),
    help="only the pairs whose question (original=instruction) or answer (original=response) is the real text",
)
@exit_on_user_error
def show(dataset, count, sort, worst, pruned, fmt, side):
    """Print pairs of a dataset (default: data/final/cycle_filt.jsonl)."""
    from .export import CONVERT
    from .records import iter_records

    path = Path(dataset).with_name("pruned.jsonl") if pruned else Path(dataset)
    records = iter_records(path)
    if side:
        records = (r for r in records if r.original == REAL[side])
    if sort or worst:
        sign = -1 if worst or sort == "-distance" else 1
        number = lambda r: isinstance(r.distance, (int, float)) and not isinstance(r.distance, bool)  # noqa: E731
        records = sorted(records, key=lambda r: (not number(r), sign * r.distance if number(r) else 0))  # no distance: last
    for r in itertools.islice(records, count):
        if fmt:
            click.echo(json.dumps(CONVERT[fmt](r), ensure_ascii=False))
            continue
        click.secho(
            f"[{r.id}] {SIDES.get(r.original, r.original)} (original={r.original}) iteration={r.iteration} distance={r.distance}",
            bold=True,
        )
        click.echo(f"  instruction: {r.instruction}")
        click.echo(f"  response:    {r.response}\n")


if __name__ == "__main__":
    main()
