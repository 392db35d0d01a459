"""Train one direction with LoRA on pseudo-pairs.

train_bwd (M_AQ): input the pseudo-answer, target the original question.
train_fwd (M_QA): input the pseudo-question, target the original answer.
train.init: fresh starts a new adapter every iteration; continue resumes iteration k-1's.
train.num_processes > 1: the recipe starts itself again under `accelerate launch`, one
process per GPU (data parallel); process 0 writes the outputs. train.num_machines > 1: every
machine runs this same stage and launches its share (multinode.py says how each finds the others).

The two adapters of an iteration cannot share one process (one base, two adapters): train_fwd
learns from relabel_questions, which needs train_bwd's adapter first (see dvc.yaml).
"""

import os
import subprocess
import sys
from pathlib import Path

import cycle_instruct

from ..card import adapter_card, base_reference
from ..errors import UserError
from ..models import has_adapter, load_model, load_tokenizer
from ..multinode import launch_options
from ..prompts import load_prompts
from ..records import atomic_dir, read_records, timed, write_json
from ..training import check_cutoff, check_processes, lora_model, process_group, train_lora, training_pairs
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, direction, base, pairs, previous, out, prompt_files, metrics, curve, timing=None):
    cfg = params.train
    launched, world = int(os.environ.get("WORLD_SIZE", "1")), cfg.num_processes * cfg.num_machines
    if launched > 1 and launched != world:
        raise UserError(
            f"train.num_processes x train.num_machines is {world}, but this runs in {launched} processes (accelerate launch); "
            f"set them so, or run the stage alone (it starts its own processes)"
        )
    launching = world > 1 and launched == 1
    writes_timing = not launching and os.environ.get("RANK", "0") == "0"  # launched: process 0 of the N writes it
    with timed(timing if writes_timing else None) as rates:
        prompts = load_prompts(prompt_files)
        records = read_records(pairs)
        if not records:
            raise UserError(
                f"{pairs}: no pairs to train on; re-run the relabel stage before it (dvc repro), and check its metrics for rejected generations"
            )
        tokenizer = load_tokenizer(base, padding_side="right")
        check_cutoff(tokenizer, direction, prompts, cfg.cutoff, prompt_files[0] if prompt_files else "the prompt")
        if launching:
            check_processes(cfg.num_processes)
            _launch(
                cfg.num_processes,
                cfg.num_machines,
                direction,
                base=base,
                pairs=pairs,
                previous=previous,
                out=out,
                prompts=prompt_files,
                metrics=metrics,
                curve=curve,
                timing=timing,
            )
            return
        rank, _ = process_group()  # before the model loads: it selects this process's GPU
        if cfg.init == "continue" and has_adapter(previous):
            model = load_model(base, previous, trainable=True)
        else:
            model = lora_model(load_model(base, trainable=True), cfg)
        steps, summary = train_lora(model, tokenizer, training_pairs(records, direction, prompts), cfg)
        if rank != 0:
            return  # process 0 holds the same adapter and writes it
        rates["tokens_per_s"] = summary.pop("tokens_per_s")  # how busy the machine was, not data: a timing
        summary["init"] = cfg.init
        reference = base_reference(params.model.base, base)  # loads from anywhere, or relative to the project
        for config in model.peft_config.values():
            config.base_model_name_or_path = reference
        iteration = max((r.iteration for r in records), default=0)
        with atomic_dir(out) as tmp:
            model.save_pretrained(tmp)
            card = adapter_card(direction, iteration, params.model.base, reference, out, cfg, summary, prompt_files)
            (tmp / "README.md").write_text(card, encoding="utf-8")  # PEFT's template, replaced
        write_json(curve, steps)
        write_json(metrics, summary)


def _launch(n: int, machines: int, direction: str, **options) -> None:
    """This recipe again in n processes on this machine (of `machines`), as a user would start it: `accelerate launch` (torchrun)."""
    threads = max(1, len(os.sched_getaffinity(0)) // n)
    placement = launch_options(machines)  # a missing MASTER_ADDR or machine rank: one line, before anything starts
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(n * machines),  # accelerate counts the processes of all machines
        *placement,
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--num_cpu_threads_per_process",
        str(threads),
        "-m",
        "cycle_instruct.steps.train",
        direction,
    ]
    for name, value in options.items():
        for v in value if isinstance(value, (list, tuple)) else [] if value is None else [value]:
            command += [f"--{name}", str(v)]
    src = str(Path(cycle_instruct.__file__).resolve().parents[1])  # the processes run this same code
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])}
    code = subprocess.run(command, env=env).returncode
    if code:
        raise UserError(
            f"train_{direction}: the {n} training processes (train.num_processes) on this machine failed with exit code {code}; their messages are above"
        )


def _command(direction: str, help_text: str):
    return stage_command(
        lambda params, **options: run(params, direction, **options),
        f"train_{direction}",
        help_text,
        option("--base", required=True, help="prepared base model folder"),
        option("--pairs", required=True, help="pseudo-labelled records to learn from"),
        option("--previous", required=True, help="this direction's adapter of iteration k-1"),
        output("--out", required=True, help="folder for the trained adapter"),
        PROMPTS,
        METRICS,
        output("--curve", required=True, help="per-step loss, for dvc plots"),
        TIMING,
    )


command_fwd = _command("fwd", "Train the forward model M_QA (question -> response) with LoRA.")
command_bwd = _command("bwd", "Train the backward model M_AQ (response -> question) with LoRA.")

if __name__ == "__main__":  # the processes `accelerate launch` starts: python -m cycle_instruct.steps.train fwd|bwd --base ...
    {"fwd": command_fwd, "bwd": command_bwd}[sys.argv.pop(1)]()
