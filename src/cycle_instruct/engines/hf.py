"""The transformers engine: batched, left-padded `generate` on one device."""

from ..errors import UserError
from ..models import load_model, load_tokenizer
from ..prompts import prompt_ids
from .base import Completion, Engine


class HFEngine(Engine):
    """transformers' generate on one device; loads the base model with each adapter in turn,
    merged into its weights (1.70x the tokens/s of PEFT's unmerged layers: benchmarks/generation.py)."""

    name = "hf"
    reason = "a model in memory"  # open_engine says why it chose this engine

    def __init__(self, base_dir=None, model=None, tokenizer=None):
        self.base_dir, self.model, self.adapter = base_dir, model, None
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(base_dir)

    def _model_for(self, adapter):
        if self.base_dir is None:  # wraps a model in memory (the evaluation's fresh fine-tunes)
            return self.model
        if self.model is None or adapter != self.adapter:
            self.model, self.adapter = None, adapter
            self.model = load_model(self.base_dir, adapter, merge=True)
        return self.model

    def run(self, prompts: list[str], cfg, adapter=None, seed: int = 0) -> list[Completion]:
        import torch

        model, tok = self._model_for(adapter), self.tokenizer
        sampling = dict(do_sample=cfg.temperature > 0, max_new_tokens=cfg.max_new_tokens)
        if cfg.temperature > 0:
            sampling.update(temperature=cfg.temperature, top_k=cfg.top_k)
        eos_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
        torch.manual_seed(seed)
        enc = tok.pad({"input_ids": [prompt_ids(tok, p) for p in prompts]}, return_tensors="pt").to(model.device)
        try:
            with torch.no_grad():
                out = model.generate(**enc, **sampling, pad_token_id=tok.pad_token_id, top_p=None)
        except torch.OutOfMemoryError:
            raise UserError(
                f"transformers ran out of GPU memory on a batch of {len(prompts)} prompts; lower generate.batch_size "
                f"({cfg.batch_size}) or generate.max_new_tokens ({cfg.max_new_tokens})"
            ) from None
        completions = []
        for row in range(len(prompts)):
            ids = out[row, enc["input_ids"].shape[1] :].tolist()
            stop = next((n for n, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if stop is None else ids[:stop]
            completions.append(
                Completion(tok.decode(kept, skip_special_tokens=False).strip(), len(kept) + (stop is not None), stop is not None)
            )
        return completions

    def close(self):
        self.model = None
