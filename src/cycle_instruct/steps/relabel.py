"""Relabel: generate the missing side of every record with the given model.

Questions get pseudo-answers from M_QA of iteration k-1 (the base model when k = 1);
answers get pseudo-questions from M_AQ of iteration k.
"""

from ..cycle import complete
from ..engines import open_engine
from ..errors import UserError
from ..prompts import load_prompts
from ..records import read_records, timed, write_json, write_records
from ..resume import clear
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, iteration, base, adapter, records_in, out, prompt_files, metrics, timing=None):
    with timed(timing):
        prompts = load_prompts(prompt_files)
        records = read_records(records_in)
        engine = open_engine(base, params.generate, params.train.lora_r, len(records))
        relabelled, stats = complete(engine, records, params.generate, prompts, reads="original", iteration=iteration, adapter=adapter, resume_as=out)
        engine.close()
        if not relabelled:
            raise UserError(f"{out}: every generation was rejected ({stats['rejected_by_reason']}); try more generate.max_new_tokens or another base model")
        write_records(out, relabelled)
        write_json(metrics, stats)
        clear(out)


command = stage_command(
    run, "relabel", "Generate the missing side of records (pseudo-answers or pseudo-questions).",
    option("--iteration", required=True, type=int),
    option("--base", required=True, help="prepared base model folder"),
    option("--adapter", required=True, help="LoRA adapter folder (iteration 0: none)"),
    option("--records", "records_in", required=True, help="records with one side filled"),
    output("--out", required=True),
    PROMPTS,
    METRICS,
    TIMING,
)
