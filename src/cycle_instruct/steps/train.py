"""Train one direction with LoRA on pseudo-pairs.

train_bwd (M_AQ): input the pseudo-answer, target the original question.
train_fwd (M_QA): input the pseudo-question, target the original answer.
train.init: fresh starts a new adapter every iteration; continue resumes iteration k-1's.
"""

from ..card import adapter_card, base_reference
from ..models import has_adapter, load_model, load_tokenizer
from ..prompts import load_prompts
from ..records import atomic_dir, read_records, timed, write_json
from ..training import lora_model, train_lora, training_pairs
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, direction, base, pairs, previous, out, prompt_files, metrics, curve, timing=None):
    cfg = params.train
    with timed(timing):
        prompts = load_prompts(prompt_files)
        records = read_records(pairs)
        tokenizer = load_tokenizer(base, padding_side="right")
        if cfg.init == "continue" and has_adapter(previous):
            model = load_model(base, previous, trainable=True)
        else:
            model = lora_model(load_model(base, trainable=True), cfg)
        steps, summary = train_lora(model, tokenizer, training_pairs(records, direction, prompts), cfg)
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


def _command(direction: str, help_text: str):
    return stage_command(
        lambda params, **options: run(params, direction, **options), f"train_{direction}", help_text,
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
