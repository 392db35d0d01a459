"""lm-evaluation-harness glue: its task names and documents, offline unless the hub is allowed.

Shared by decontamination (a task's documents are evaluation items) and the benchmark stage
(which runs lm-eval on every method's adapter). Every failure of lm-eval's that is the user's to
fix becomes one line naming the task and the setting.
"""

import difflib
import os
from pathlib import Path

import yaml

from .errors import UserError

INSTALL = "lm-evaluation-harness is not installed: pip install 'cycle-instruct[bench]' (or pip install 'lm-eval>=0.4.13,<0.5')"


def require_lm_eval():
    try:
        import lm_eval
    except ImportError:
        raise UserError(INSTALL) from None
    return lm_eval


def go_offline(allow_hub: bool) -> None:
    """Without model.allow_hub, `datasets` and the hub client read only their caches (set before they are imported)."""
    if not allow_hub:
        for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[var] = "1"


def task_manager(include: list[str] | None = None, names: list[str] = ()):
    """lm-eval's TaskManager with the user's task folders (eval.benchmarks.include) on its include path. When the
    folders hold every task in `names`, lm-eval's own ~15,000 are not indexed (10 s and more on a small CPU)."""
    require_lm_eval()
    import logging

    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its notes on task configs would bury our one-line errors
    for folder in include or []:
        if not os.path.isdir(folder):
            raise UserError(f"{folder}: no such folder of task YAMLs (eval.benchmarks.include)")
    for folder in include or []:
        for path in sorted(Path(folder).rglob("*.y*ml")):
            try:
                yaml.load(path.read_text(encoding="utf-8"), Loader=_Lenient)
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise UserError(f"{path}: the task file does not parse ({first_line(e)})") from None
    try:
        if include and names:
            local = TaskManager(include_path=list(include), include_defaults=False)
            if all(n in local.all_tasks for n in names):
                return local
        return TaskManager(include_path=list(include) if include else None)
    except Exception as e:  # a task YAML lm-eval cannot index
        raise UserError(f"{task_file(e, include)}: a task file does not parse ({first_line(e)})") from None


class _Lenient(yaml.SafeLoader):
    """YAML as lm-eval reads task files: tags such as `!function utils.process_docs` are allowed."""


_Lenient.add_multi_constructor("!", lambda loader, suffix, node: None)


def task_file(error: Exception, include) -> str:
    text = str(error)
    return next(
        (w.strip("'\",()") for w in text.split() if w.strip("'\",()").endswith((".yaml", ".yml"))), ", ".join(include or [])
    )


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def check_tasks(names: list[str], manager, setting: str) -> None:
    """Each name must be a task, group or tag lm-eval knows: one line with the closest names otherwise."""
    known = manager.all_tasks
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
            hint = f"; closest: {', '.join(close)}" if close else "; `lm-eval ls tasks` lists them"
            raise UserError(f"{setting}: unknown lm-eval task '{name}'{hint}")


def load_tasks(name: str, manager, allow_hub: bool, setting: str) -> dict:
    """{task name: Task} of a task or group, its dataset read (from the cache only unless allow_hub)."""
    try:
        return manager.load(name)["tasks"]
    except Exception as e:
        text = first_line(e)
        if not allow_hub and any(w in text.lower() for w in ("offline", "connect", "couldn't reach", "not find", "not found")):
            raise UserError(
                f"{setting}: task '{name}' needs its dataset from the hub, and model.allow_hub is false; set it true "
                f"(or fill the datasets cache first) ({text})"
            ) from None
        raise UserError(f"{setting}: task '{name}' could not be loaded: {text}") from None


def task_documents(name: str, manager, allow_hub: bool, setting: str) -> list[list[str]]:
    """Every evaluation document of a task (or of a group's tasks) as its texts: prompt, target and choices."""
    items = []
    for task in load_tasks(name, manager, allow_hub, setting).values():
        for doc in task.eval_docs:
            texts = [task.doc_to_text(doc), task.doc_to_target(doc)]
            if task.OUTPUT_TYPE == "multiple_choice":
                texts += list(task.doc_to_choice(doc))
            items.append([t for t in texts if isinstance(t, str)])
    return items
