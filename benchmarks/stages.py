"""Benchmark: the demo pipeline's stages on each engine, in one run.

Clones this checkout's HEAD into a temp folder once per engine, sets `generate.engine` in the
clone's params.yaml (transformers, then vLLM), runs `dvc repro` and prints each stage's wall
seconds (metrics/timings/) side by side, with the ratio transformers / vLLM, and what each
generation stage made (tokens generated). Stages that do not generate (training, prune) are the
control: they should take the same time in both runs. This is the measurement behind
`generate.vllm_min_tokens` and `vllm_min_tokens_adapter`, which decide when `auto` takes vLLM.

    python benchmarks/stages.py [--engines hf,vllm] [--keep]
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402


def run_pipeline(engine: str, work: Path) -> tuple[dict, dict, float]:
    """Clone, set the engine, `dvc repro`; return ({stage: wall s}, {stage: tokens}, total wall s)."""
    clone = work / engine
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    params = clone / "params.yaml"
    text, n = re.subn(r"(?m)^(  engine: )auto\b", rf"\g<1>{engine}", params.read_text())
    if n != 1:
        raise SystemExit("params.yaml: no `generate.engine: auto` line to change")
    params.write_text(text)
    start = time.perf_counter()
    subprocess.run(["dvc", "repro", "--force"], cwd=clone, check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - start
    walls = {p.stem: json.loads(p.read_text())["wall_seconds"] for p in sorted((clone / "metrics" / "timings").glob("*.json"))}
    tokens = {}
    for p in (clone / "metrics").rglob("*.json"):
        metrics = json.loads(p.read_text())
        if "timings" not in p.parts and p.stem != "summary" and isinstance(metrics, dict) and "tokens_generated" in metrics:
            stage = p.stem if p.parent.name == "metrics" else f"{p.stem}_{p.parent.name}"
            tokens[stage] = metrics["tokens_generated"]
    return walls, tokens, total


@click.command()
@click.option("--engines", default="hf,vllm", show_default=True, help="comma-separated: hf, vllm, auto")
@click.option("--keep", is_flag=True, help="keep the clones (printed) for a look at their outputs")
def main(engines, keep):
    engines = [e.strip() for e in engines.split(",") if e.strip()]
    work = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    print(f"machine: {describe()}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"the demo pipeline at {commit}, `dvc repro --force` once per engine\n", flush=True)
    results = {e: run_pipeline(e, work) for e in engines}
    stages = sorted({s for walls, _, _ in results.values() for s in walls})
    head = " | ".join(f"{e} s" for e in engines)
    ratio = len(engines) == 2
    print(f"| stage | {head} |{' ratio |' if ratio else ''} tokens generated |")
    print("|---|" + "---|" * (len(engines) + ratio + 1))
    for stage in stages:
        walls = [results[e][0].get(stage) for e in engines]
        cells = " | ".join("-" if w is None else f"{w:.1f}" for w in walls)
        r = f" {walls[0] / walls[1]:.2f}x |" if ratio and walls[0] and walls[1] else (" - |" if ratio else "")
        made = " / ".join(str(results[e][1].get(stage, "-")) for e in engines)
        print(f"| {stage} | {cells} |{r} {made} |")
    totals = [results[e][2] for e in engines]
    r = f" {totals[0] / totals[1]:.2f}x |" if ratio else ""
    print(f"| whole `dvc repro` | {' | '.join(f'{t:.1f}' for t in totals)} |{r} |")
    if keep:
        print(f"\nclones kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
