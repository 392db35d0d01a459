"""What every engine gives back (Completion) and how it runs several batches (Engine)."""

from dataclasses import dataclass


@dataclass
class Completion:
    text: str
    new_tokens: int
    finished: bool  # stopped at end-of-turn rather than at max_new_tokens


class Engine:
    """What every engine does with several batches: `run_batches` yields (key, completions) per
    batch as it finishes. Here, one batch after the other; vLLM and Replicas override it to schedule them all at once."""

    def run_batches(self, batches, cfg, adapter=None):
        """`batches`: (key, prompts, seed) triples; yields (key, completions), in any order."""
        for key, prompts, seed in batches:
            yield key, self.run(prompts, cfg, adapter=adapter, seed=seed)
