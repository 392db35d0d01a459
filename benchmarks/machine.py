"""The machine a benchmark ran on, for the line every benchmark prints first.

Standard library only: benchmarks/decode_roofline.py runs on GPU machines that have torch and
transformers and nothing else of ours.
"""

import platform


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
