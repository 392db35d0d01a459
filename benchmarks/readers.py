"""Benchmark: what the pipeline keeps from real documentation, before and after issue 12.

Runs the whole pipeline (`dvc repro prune`, in a temp git + DVC project) on a sample of real
documentation (the docutils FAQ's first sections in .rst and a pip Markdown page,
`tests/data/docs/`), once per checkout:

- `after`: this checkout, with its defaults;
- `before`: the commit given by `--before` (default: the last one before issue 12's readers,
  question rule and checks), read the way it could read these files: `.rst` renamed `.txt`.

Both runs use the same small settings (one iteration, the embedded SmolLM2-135M). For each it
prints: question segments and their precision on the hand-labelled sample
(tests/data/question_labels.jsonl, under the run's question rule), the share of kept pairs
with markup outside code blocks, assistant boilerplate or a copied side (the goal is 0), the relevance (cosine of
instruction and response embeddings) of kept versus pruned pairs, and 10 random kept pairs.

    python benchmarks/readers.py [--only before|after] [--before COMMIT] [--keep DIR]
"""

import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cycle_instruct.cycle import is_copy  # noqa: E402
from cycle_instruct.embedding import load_embedder  # noqa: E402
from cycle_instruct.fidelity import without_code  # noqa: E402
from cycle_instruct.generate import reject_reason  # noqa: E402
from cycle_instruct.params import EMBEDDED_EMBEDDER  # noqa: E402
from cycle_instruct.project import make_project  # noqa: E402
from cycle_instruct.quality import relevance  # noqa: E402
from cycle_instruct.records import read_records  # noqa: E402

# (file, lines): the docutils FAQ's first sections (its questions are headings, as in most FAQs;
# the whole file is 1,280 lines, too many for a 2-core CPU in minutes) and a Markdown page
DOCS = [(ROOT / "tests/data/docs/docutils/FAQ.rst", 550), (ROOT / "tests/data/docs/pip/getting-started.md", None)]
BEFORE = "a72302a"  # main before this readers, question rule and fidelity checks
SETTINGS = {  # small enough for a 2-core CPU in minutes; the same for both runs
    "iterations": {"1": {"prev": 0}},
    "generate": {"max_new_tokens": 64, "engine": "hf"},  # the engine the demo uses; a72302a cannot resume on vLLM
    "reformat": {"max_new_tokens": 96},
    "train": {"cutoff": 256},
    "prune": {"min_cluster_size": 8},
}
# markup a reader should have removed: rst underlines, roles, ``literals``, directives,
# trailing ::, Markdown headings, links and fences, HTML tags
MARKUP = re.compile(
    r"^[=\-~^\"'`#*+]{4,}\s*$|:[a-z]+:`|``\S|^\s*\.\. [\w|-]+::|^\s*\.\. _|::\s*$|^#{1,6} |\]\([^)]*\)|^```|</?[a-z][a-z0-9]*(\s[^>]*)?>",
    re.MULTILINE,
)


def run_pipeline(name: str, source: Path, work: Path) -> Path:
    if (work / name / "data/final/cycle_filt.jsonl").exists():  # --keep DIR of an earlier run: measure it again
        return work / name
    corpus = {
        f"data/raw/{p.parent.name}/{p.stem}{'.txt' if name == 'before' and p.suffix != '.md' else p.suffix}": "\n".join(
            p.read_text().split("\n")[:lines]
        )
        + "\n"
        for p, lines in DOCS
    }
    project = make_project(work / name, SETTINGS, None, corpus, source=source)
    start = time.perf_counter()
    run = subprocess.run(["dvc", "repro", "prune"], cwd=project, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"{name}: dvc repro failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    print(f"{name}: pipeline ran in {time.perf_counter() - start:.0f} s ({project})", flush=True)
    return project


def question_precision(rule: str) -> tuple[float, int, int]:
    """Precision of question segments on the hand-labelled sample, under `rule` (blocks as the
    readers give them, with the code and cited spans the rule looks at)."""
    from collections import Counter

    from cycle_instruct import readers
    from cycle_instruct.questions import why_not

    data = ROOT / "tests/data"
    labels = [json.loads(line) for line in (data / "question_labels.jsonl").read_text().splitlines() if line.strip()]
    blocks = {}
    for file in {row["file"] for row in labels}:
        for block in readers.read(readers.markup_of(Path(file).suffix), (data / file).read_text(), file, Counter()):
            blocks[file, block.text] = block
    called = [
        row["label"]
        for row in labels
        if why_not(row["text"], rule, blocks[row["file"], row["text"]].code, blocks[row["file"], row["text"]].cited) is None
    ]
    return (sum(called) / len(called) if called else 0.0), sum(called), len(called)


def measure(name: str, project: Path, embedder) -> dict:
    segment = json.loads((project / "metrics/segment.json").read_text())
    kept, pruned = read_records(project / "data/final/cycle_filt.jsonl"), read_records(project / "data/final/pruned.jsonl")
    rule = "contains" if name == "before" else yaml_value(project / "params.yaml", "segment", "question_rule")
    precision, real, called = question_precision(rule)

    def share(test) -> str:
        hits = sum(1 for r in kept if test(r))
        return f"{hits}/{len(kept)}"

    keep_rel, prune_rel = relevance(embedder, kept), relevance(embedder, pruned)
    return {
        "question rule": rule,
        "question segments": segment.get("questions"),
        "answer segments": segment.get("answers"),
        "question precision (labelled sample)": f"{precision:.2f} ({real}/{called})",
        "kept pairs": len(kept),
        # outside code blocks: markup in one is an example (an rst FAQ showing rst) or code a model
        # wrote, not markup a reader left behind; an unclosed fence still counts
        "kept with markup": share(
            lambda r: MARKUP.search(without_code(r.instruction)) or MARKUP.search(without_code(r.response))
        ),
        "kept with boilerplate": share(
            lambda r: any(
                reject_reason(t, "", "", reject_echo=False) in ("boilerplate", "template_leak")
                for t in (r.instruction, r.response)
            )
        ),
        "kept with a copied side": share(lambda r: is_copy(r.instruction, r.response, 0.8)),
        "relevance kept (mean cosine)": round(sum(keep_rel) / len(keep_rel), 3) if keep_rel else None,
        "relevance pruned (mean cosine)": round(sum(prune_rel) / len(prune_rel), 3) if prune_rel else None,
        "examples": random.Random(0).sample(kept, min(10, len(kept))),
    }


def yaml_value(path: Path, section: str, key: str):
    import yaml

    return yaml.safe_load(path.read_text())[section][key]


@click.command()
@click.option("--only", type=click.Choice(["before", "after"]), help="run one side only")
@click.option("--before", "before_commit", default=BEFORE, show_default=True, help="the commit to measure as 'before'")
@click.option("--keep", type=click.Path(file_okay=False), help="folder to keep the projects in (default: a temp folder)")
def main(only, before_commit, keep):
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    sides = [only] if only else ["before", "after"]
    results = {}
    for name in sides:
        source = ROOT if name == "after" else work / "before-checkout"
        if name == "before" and not source.exists():
            source.mkdir()
            archive = subprocess.run(["git", "archive", before_commit], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        results[name] = measure(name, run_pipeline(name, source, work), load_embedder(EMBEDDED_EMBEDDER))
    docs = ", ".join(f"{p.relative_to(ROOT)}" + (f" (first {lines} lines)" if lines else "") for p, lines in DOCS)
    print(f"\ncorpus: {docs}; settings: {json.dumps(SETTINGS)}\n")
    print("| | " + " | ".join(sides) + " |\n|---|" + "---|" * len(sides))
    for key in results[sides[0]]:
        if key != "examples":
            print(f"| {key} | " + " | ".join(str(results[s][key]) for s in sides) + " |")
    for name in sides:
        print(f"\n10 random kept pairs ({name}):")
        for r in results[name]["examples"]:
            print(f"- Q: {r.instruction[:200]!r}\n  A: {r.response[:200]!r}  (distance {r.distance})")


if __name__ == "__main__":
    main()
