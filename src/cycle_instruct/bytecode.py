"""Compile, once at install, the modules that the stages import.

pip compiles the packages it installs to bytecode; uv, which `make setup` uses, leaves that to
the first import. Where PYTHONDONTWRITEBYTECODE is set (CI images, this project's build VM)
nothing is ever written, so every stage process compiled transformers, scikit-learn and vLLM
from source again: 3-5 s of each stage's start-up. Importing them once here, with bytecode
writing on, leaves the .pyc files behind; Python reads them whatever that variable says.
This takes about 20 s on 2 cores, and saves 4-6 s in each of the demo's model stages; compiling
all of site-packages (uv's --compile-bytecode) would take about 35 s. Without that variable
Python writes the .pyc files itself on first import, so there is nothing to do.

    python -m cycle_instruct.bytecode
"""

import importlib
import importlib.util
import sys
import time

from .cli import STAGES

# what the stages import, beyond what `import cycle_instruct.steps.<stage>` pulls in itself;
# transformers loads its classes lazily, so the ones the stages use are named here
MODULES = [
    *dict.fromkeys(f"cycle_instruct.steps.{module}" for module, _ in STAGES.values()),
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "transformers.generation.utils",
    "transformers.modeling_gguf_pytorch_utils",
    "transformers.models.llama.modeling_llama",
    "transformers.models.bert.modeling_bert",
    "transformers.tokenization_utils_tokenizers",
    "peft",
    "sentence_transformers",
    "dvc.cli",
    "dvc.repo.reproduce",
    "vllm",
    "vllm.entrypoints.llm",
    "vllm.lora.request",
    "vllm.v1.engine.llm_engine",
    "vllm.v1.worker.cpu_worker",
    "vllm.model_executor.models.llama",
]


def compile_imports(modules=MODULES) -> tuple[int, list[str]]:
    """Import each module with bytecode writing on; returns (modules now loaded, names that would
    not import). A module that is missing (vLLM where it is not installed) is skipped: this only
    warms a cache."""
    sys.dont_write_bytecode = False
    failed = []
    for name in modules:
        try:
            if importlib.util.find_spec(name.split(".")[0]) is None:
                raise ImportError(name)
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (a module that will not import here is simply not compiled)
            failed.append(name)
    return len(sys.modules), failed


def main() -> None:
    if not sys.flags.dont_write_bytecode:
        print("bytecode: Python writes .pyc files on first import here (PYTHONDONTWRITEBYTECODE is not set); nothing to do")
        return
    start = time.perf_counter()
    loaded, failed = compile_imports()
    skipped = f"; not importable here, skipped: {', '.join(failed)}" if failed else ""
    print(f"bytecode: the {loaded} modules the stages import are compiled (.pyc), {time.perf_counter() - start:.0f} s{skipped}")


if __name__ == "__main__":
    main()
