"""`cycle-instruct`: run one pipeline stage by hand, check params.yaml, or look at a dataset.

`dvc repro` is the normal way to run the pipeline; `cycle-instruct <stage>` calls the same
recipe (cycle_instruct.steps.<stage>) with the same options as `stages/<stage>.py`.
"""

import importlib
import itertools
import json
import sys
import textwrap
from pathlib import Path

import click

from .errors import UserError, exit_on_user_error
from .params import load_params

STAGES = {  # command name: (module in cycle_instruct.steps, click command in it)
    "fingerprint_models": ("fingerprint_models", "command"),
    "prepare_base": ("prepare_base", "command"),
    "segment": ("segment", "command"),
    "reformat": ("reformat", "command"),
    "retrieve": ("retrieve", "command"),
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
RETRIEVED = "data/retrieved/contexts.jsonl"
REAL = {"question": "instruction", "answer": "response"}  # show --side: which side is the real text
SIDES = {"instruction": "real question, generated answer", "response": "real answer, generated question"}


class RetrievedParagraphs:
    """The retrieve stage's paragraphs of a question, looked up in its file (read once, at the first
    grounded pair shown; only the line offsets are kept, so a large file costs no memory)."""

    def __init__(self, path):
        self.path, self.offsets = Path(path), None

    def of(self, record_id: str) -> list[dict]:
        if self.offsets is None:
            self.offsets = {}
            if self.path.is_file():
                offset = 0
                with open(self.path, "rb") as f:
                    for line_no, line in enumerate(f, 1):
                        if line.strip():
                            self.offsets[self._row(line, line_no)["id"]] = offset
                        offset += len(line)
        if record_id not in self.offsets:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offsets[record_id])
            return self._row(f.readline(), None)["paragraphs"]

    def _row(self, line: bytes, line_no) -> dict:
        try:
            row = json.loads(line)
            row["id"], row["paragraphs"]  # noqa: B018  (both keys must be there)
            return row
        except (ValueError, TypeError, KeyError):
            where = f"{self.path}:{line_no}" if line_no else str(self.path)
            raise UserError(
                f"{where}: not the retrieve stage's output (JSONL of id and paragraphs); run dvc repro retrieve"
            ) from None


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
@click.option(
    "--contexts",
    default=RETRIEVED,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="the retrieve stage's paragraphs, shown under each grounded pair (relabel.context: retrieved)",
)
@exit_on_user_error
def show(dataset, count, sort, worst, pruned, fmt, side, contexts):
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
    paragraphs = RetrievedParagraphs(contexts)
    for r in itertools.islice(records, count):  # streamed: a bad line stops the listing there, with one line
        if fmt:
            click.echo(json.dumps(CONVERT[fmt](r), ensure_ascii=False))
            continue
        scores = f"distance={r.distance} relevance={r.relevance}" + (f" support={r.support}" if r.support is not None else "")
        click.secho(
            f"[{r.id}] {SIDES.get(r.original, r.original)} (original={r.original}) iteration={r.iteration} {scores}", bold=True
        )
        click.echo(f"  instruction: {r.instruction}")
        click.echo(f"  response:    {r.response}")
        if r.retrieved:
            click.echo(f"  written from the answer paragraphs {', '.join(r.retrieved)}:")
            for p in paragraphs.of(r.id):
                click.echo(f"    [{p['id']}] {textwrap.shorten(p['text'], 200)}")
        click.echo()


VIEW_DB = "data/view/run.db"


@main.command()
@click.option("--db", default=VIEW_DB, show_default=True, type=click.Path(dir_okay=False), help="the view stage's database")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="the port to serve on")
@click.option("--host", default="127.0.0.1", show_default=True, help="the address to listen on (0.0.0.0: every interface)")
@click.option("--build", is_flag=True, help="build the view from the run's files as they are now, not from --db")
@exit_on_user_error
def view(db, port, host, build):
    """Browse the whole run: every pair (kept, pruned, rejected), search, facets and charts (Datasette).

    Serves data/view/run.db (the `view` stage: `dvc repro`, or `dvc pull view`); without it (a run that has not
    finished), or with --build, builds one from the files that exist, in a temporary folder.
    """
    import tempfile

    from .view import build as build_view
    from .view import check_port, serve

    if Path(db).is_file() and not build:
        return serve(db, host, port)
    check_project_folder(Path.cwd())
    check_port(host, port)
    params = load_params()
    with tempfile.TemporaryDirectory(prefix="cycle-instruct-view-") as tmp:
        missing = build_view(Path(), Path(tmp) / "run.db", params.prune, params.chain)
        if missing:
            click.echo(f"this run has not finished: no outputs yet from {', '.join(missing)}; showing what exists")
        serve(Path(tmp) / "run.db", host, port)


if __name__ == "__main__":
    main()
