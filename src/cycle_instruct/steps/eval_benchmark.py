"""Evaluation: lm-evaluation-harness on one method's model, the base plus the LoRA adapter its data
fine-tuned (the untuned base for a method with no pairs), on the tasks of eval.benchmarks. lm-eval's
vLLM backend when the engine is vLLM, else its HF backend with peft=. Results with lm-eval's standard
errors go to the metrics; each document's score goes to --samples for the report's paired comparisons."""

import importlib.util
from pathlib import Path

from ..benchmarks import backend, model_args, sample_scores, task_results
from ..errors import UserError
from ..harness import check_tasks, go_offline, load_tasks, require_lm_eval, task_manager
from ..records import read_json, timed, write_json
from . import METRICS, TIMING, option, output, stage_command

SETTING = "eval.benchmarks.tasks"


def run(params, method, base, adapter, tasks_dir, metrics, samples, timing=None):
    cfg = params.eval.benchmarks
    with timed(timing):
        require_lm_eval()
        allow_hub = params.model.allow_hub
        go_offline(allow_hub)
        manager = task_manager([tasks_dir, *cfg.include], cfg.tasks)
        check_tasks(cfg.tasks, manager, SETTING)
        for name in cfg.tasks:  # each task's dataset, now: a task that needs the hub offline is one line, before a model loads
            load_tasks(name, manager, allow_hub, SETTING)
        info = read_json(Path(adapter) / "adapter.json")
        import torch
        from lm_eval import simple_evaluate

        cuda = torch.cuda.is_available()
        kind = backend(params.generate.engine, cuda, importlib.util.find_spec("vllm") is not None)
        args = model_args(kind, base, adapter if info["adapter"] else None, params.generate, params.train.lora_r, cuda)
        try:
            results = simple_evaluate(
                model=kind,
                model_args=args,
                tasks=list(cfg.tasks),
                num_fewshot=cfg.num_fewshot or None,
                limit=cfg.limit or None,
                batch_size=cfg.batch_size,
                task_manager=manager,
                log_samples=True,
                apply_chat_template=cfg.chat_template,
                bootstrap_iters=1000,
                random_seed=params.eval.seed,
                numpy_random_seed=params.eval.seed,
                torch_random_seed=params.eval.seed,
                fewshot_random_seed=params.eval.seed,
            )
        except (ValueError, FileNotFoundError, OSError) as e:
            raise UserError(f"{SETTING}: lm-eval failed on {method}: {str(e).splitlines()[0][:200]}") from None
        write_json(samples, sample_scores(results.get("samples")))
        write_json(
            metrics,
            {
                "method": method,
                "adapter": info["adapter"],
                "train_pairs": info["train_pairs"],
                "backend": kind,
                "tasks": task_results(results),
                "documents": {t: n.get("effective", n.get("original")) for t, n in results.get("n-samples", {}).items()},
            },
        )


command = stage_command(
    run,
    "eval_benchmark",
    "Evaluation: run lm-evaluation-harness on one method's model (base + its LoRA adapter).",
    option("--method", required=True),
    option("--base", required=True, help="prepared base model folder"),
    option("--adapter", required=True, help="the method's adapter folder (eval_downstream --adapter)"),
    option("--tasks", "tasks_dir", required=True, help="folder of the held-out task (eval_benchmark_task --out)"),
    METRICS,
    output("--samples", required=True, help="each document's score per task and metric (JSON)"),
    TIMING,
)
