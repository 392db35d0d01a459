"""The GPU check's Python steps (benchmarks/gpu_check.sh runs them): the demo's inputs, the replicas
check and the one table. Standard library and our package only, plus torch where a step needs it.

    python benchmarks/gpu_check.py inputs FOLDER N PARAMS     params.yaml (PARAMS: JSON overrides), questions/answers
    python benchmarks/gpu_check.py replicas BASE [--dry-run] one engine per visible GPU against one engine
    python benchmarks/gpu_check.py parse SCRIPT ARGS...      a dry run: SCRIPT's command line parses ARGS
    python benchmarks/gpu_check.py parse-all COMMANDS.tsv    a dry run: every step's command line, one process
    python benchmarks/gpu_check.py table ROWS.tsv            the rows gathered so far, as one Markdown table
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def inputs(folder: Path, n: int, overrides: dict) -> None:
    """params.yaml with `overrides`, and the demo corpus's FAQ paragraphs (data/raw, tracked): each question
    paragraph and the one after it, as the reformat stage would leave them (no DVC output needed there)."""
    from cycle_instruct.project import write_params
    from cycle_instruct.records import Record, write_records

    paragraphs = [
        p.strip() for f in sorted((ROOT / "data/raw").glob("faq_*.txt")) for p in f.read_text().split("\n\n") if p.strip()
    ]
    pairs = [(q, a) for q, a in zip(paragraphs[::2], paragraphs[1::2]) if "?" in q][:n]
    folder.mkdir(parents=True, exist_ok=True)
    write_params(folder, overrides)
    write_records(
        folder / "questions.jsonl",
        [Record(id=f"q{i:06d}", original="instruction", instruction=q) for i, (q, _) in enumerate(pairs)],
    )
    write_records(
        folder / "answers.jsonl", [Record(id=f"a{i:06d}", original="response", response=a) for i, (_, a) in enumerate(pairs)]
    )


def replicas(base: str, dry_run: bool) -> str:
    """generate.data_parallel_size = every visible GPU (Replicas: a process per GPU) against one engine on
    the same batches: the same completions, and the speed-up. --dry-run: only what it imports and reads."""
    import torch

    from cycle_instruct.engines import HFEngine, Replicas, replica_devices
    from cycle_instruct.params import load_params

    cfg = load_params(ROOT / "params.yaml").generate.but(engine="hf", max_new_tokens=64)
    if dry_run:
        return f"wiring: {Replicas.__name__}, {replica_devices.__name__}, generate.seed {cfg.seed}"
    prompts = [f"<|im_start|>user\nName a fact about the number {i}.<|im_end|>\n<|im_start|>assistant\n" for i in range(64)]
    batches = [(b, prompts[b * 8 : (b + 1) * 8], cfg.seed + b) for b in range(8)]
    gpus = torch.cuda.device_count()
    devices = replica_devices(cfg.but(data_parallel_size=gpus))
    start = time.perf_counter()
    one = dict(HFEngine(base).run_batches(batches, cfg))
    single = time.perf_counter() - start
    spread = Replicas("hf", base, cfg, None, devices)
    try:
        start = time.perf_counter()
        got = dict(spread.run_batches(batches, cfg))
        many = time.perf_counter() - start
    finally:
        spread.close()
    same = "same completions" if got == one else "DIFFERENT completions"
    return f"{len(devices)} replicas on {gpus or 'no'} GPU(s): {same}; {single / many:.2f}x one engine ({single:.1f} s vs {many:.1f} s)"


def parse(script: str, args: list[str]) -> str:
    """A dry run's check of a step's command line: the script's click command parses these very
    options (names, types, required ones) without running."""
    import runpy

    import click

    sys.path.insert(0, str(Path(script).resolve().parent))  # stages/_checkout, benchmarks/machine
    names = runpy.run_path(script, run_name="gpu_check")
    command = next(v for v in names.values() if isinstance(v, click.Command) and v.callback is not None)
    context = command.make_context(Path(script).name, list(args))
    return f"wiring: {len([v for v in context.params.values() if v is not None])} options parse"


def parse_all(commands: Path) -> bool:
    """A dry run's check of every step's command line in one process (each alone costs a start-up):
    COMMANDS has one `check<TAB>script<TAB>options` line per step; prints one row per step."""
    import shlex

    import click

    ok = True
    for line in commands.read_text().splitlines():
        name, script, options = line.split("\t")
        try:
            result = parse(script, shlex.split(options))
        except (click.ClickException, click.exceptions.Exit, StopIteration) as e:
            ok, result = False, f"FAILED: {e.format_message() if isinstance(e, click.ClickException) else type(e).__name__}"
        print(f"{name}\t{result}\t", flush=True)
    return ok


def table(rows: Path) -> str:
    lines = ["| check | result | seconds |", "|---|---|---|"]
    for line in rows.read_text().splitlines():
        name, result, seconds = (line.split("\t") + ["", ""])[:3]
        lines.append(f"| {name} | {result} | {seconds} |")
    return "\n".join(lines)


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    if step == "inputs":
        inputs(Path(args[0]), int(args[1]), json.loads(args[2]))
    elif step == "replicas":
        print(replicas(args[0], "--dry-run" in args))
    elif step == "parse":
        print(parse(args[0], args[1:]))
    elif step == "parse-all":
        sys.exit(0 if parse_all(Path(args[0])) else 1)
    elif step == "table":
        print(table(Path(args[0])))
    else:
        sys.exit(f"unknown step {step}: inputs, replicas or table")
