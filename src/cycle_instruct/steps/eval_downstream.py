"""Evaluation: fine-tune the base model on one method's dataset and score it on the test split.

Both directions, with the same LoRA settings for every method (params `train`): the forward
model answers the held-out questions, the backward model writes the question behind each
held-out answer. Each output is compared with the gold text by embedding cosine and ROUGE-L.
An empty dataset (Vanilla) scores the untuned base model.
"""

from ..cycle import complete
from ..embedding import embed, load_embedder
from ..engines import HFEngine
from ..errors import UserError
from ..evaluation import cosine_rows, mean, only_side, sem
from ..models import load_model, load_tokenizer
from ..overlap import rouge_l
from ..prompts import load_prompts
from ..records import INSTRUCTION, RESPONSE, Record, atomic_dir, read_records, timed, write_json, write_records
from ..training import lora_model, train_lora, training_pairs
from . import METRICS, PROMPTS, TIMING, option, output, stage_command


def run(params, method, base, dataset, test, predictions, prompt_files, metrics, adapter=None, scores=None, timing=None):
    with timed(timing):
        prompts = load_prompts(prompt_files)
        pairs, held_out = read_records(dataset), read_records(test)
        if not held_out:
            raise UserError(f"{test}: no held-out pairs; set segment.test_size (see README, Evaluation)")
        tokenizer = load_tokenizer(base)
        embedder = load_embedder(params.model.embedder, params.model.allow_hub)
        report, outputs = {"method": method, "train_pairs": len(pairs)}, []
        per_item = {"ids": [t.id for t in held_out]}  # each held-out pair's scores, for the report's paired comparisons
        for direction, target in (("fwd", RESPONSE), ("bwd", INSTRUCTION)):
            model = load_model(base, trainable=bool(pairs))
            if pairs:
                model = lora_model(model, params.train)
                _, report[f"train_{direction}"] = train_lora(
                    model, load_tokenizer(base, padding_side="right"), training_pairs(pairs, direction, prompts), params.train
                )
            # each test pair shows the model only the side it reads; it writes the other
            inputs = [only_side(t, INSTRUCTION if target == RESPONSE else RESPONSE) for t in held_out]
            # every output is scored as written; the checks that drop pseudo-pairs only count here
            filled, stats = complete(
                HFEngine(model=model, tokenizer=tokenizer), inputs, params.generate, prompts, keep_rejected=True
            )
            texts = [getattr(r, target) for r in filled]
            gold = [getattr(t, target) for t in held_out]
            cosines = cosine_rows(embed(embedder, texts), embed(embedder, gold)).tolist()
            rouges = [rouge_l(c, g) for c, g in zip(texts, gold)]
            side = "answer" if target == RESPONSE else "question"
            per_item[f"{side}.cosine"], per_item[f"{side}.rouge_l"] = cosines, rouges
            report[side] = {
                "cosine": mean(cosines),
                "cosine_sem": sem(cosines),
                "rouge_l": mean(rouges),
                "rouge_l_sem": sem(rouges),
                "rejected": stats["rejected"],
                "rejected_by_reason": stats["rejected_by_reason"],
                "unfinished": stats["unfinished"],
            }
            if target == RESPONSE and adapter:  # the answering model: what the benchmark stage scores
                save_adapter(adapter, model if pairs else None, method, len(pairs))
            outputs += [
                Record(id=t.id, original=target, instruction=t.instruction, response=t.response, reconstruction=text)
                for t, text in zip(held_out, texts)
            ]
            del model
        write_records(predictions, outputs)
        if scores:
            write_json(scores, per_item)
        write_json(metrics, report)


def save_adapter(folder, model, method: str, pairs: int) -> None:
    """The forward (question -> answer) LoRA adapter as PEFT saves it, and adapter.json saying whether there is one:
    a method with no pairs (Vanilla) is the untuned base model."""
    with atomic_dir(folder) as tmp:
        if model is not None:
            model.save_pretrained(tmp)
        write_json(tmp / "adapter.json", {"method": method, "train_pairs": pairs, "adapter": model is not None})


command = stage_command(
    run,
    "eval_downstream",
    "Evaluation: fine-tune on one method's dataset and score it on the held-out split.",
    option("--method", required=True),
    option("--base", required=True, help="prepared base model folder"),
    option("--dataset", required=True, help="the method's training pairs"),
    option("--test", required=True, help="held-out gold pairs (segment's test file)"),
    output("--predictions", required=True),
    PROMPTS,
    METRICS,
    output("--scores", help="each held-out pair's scores (JSON), for the report's paired comparisons"),
    output("--adapter", help="folder for the forward LoRA adapter (PEFT), which the benchmark stage evaluates"),
    TIMING,
)
