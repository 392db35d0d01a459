"""The machine a benchmark ran on, for the line every benchmark prints first.

Standard library only: benchmarks/decode_roofline.py runs on GPU machines that have torch and
transformers and nothing else of ours.
"""

import os
import platform

# the vector units that decide a CPU's fp32/bf16 matmul rate, best first (cloud VMs often hide the model name)
ISA = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def cpu_name() -> str:
    """The CPU's name, with its family/model and vector extensions where Linux tells them:
    'AMD EPYC' alone names every generation of EPYC, which run these benchmarks 1.3x apart."""
    try:
        with open("/proc/cpuinfo") as f:
            first = f.read().split("\n\n", 1)[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    name = fields.get("model name") or platform.processor() or platform.machine()
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    flags = set(fields.get("flags", "").split())
    if isa := [flag for flag in ISA if flag in flags]:
        details.append(", ".join(isa))
    return f"{name} ({'; '.join(details)})" if details else name


def describe() -> str:
    """CPU, cores, memory and OS, as each benchmark's first line names the machine."""
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{cpu_name()}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}"
