"""What the CPU can do for int8 inference, read from /proc/cpuinfo (Linux) without extra packages.

ONNX Runtime multiplies uint8 activations by int8 weights with AVX2's VPMADDUBSW, which adds two
products into a saturating int16: on x86 CPUs without VNNI the sum of two 8-bit products can overflow,
which is why static int8 on such a CPU needs 7-bit weights (`reduce_range`) to stay accurate.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

# Flags that matter for int8 / low-precision kernels, in the order they are printed.
INTERESTING_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "bf16",
)


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty when /proc/cpuinfo is unavailable)."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return frozenset()
    flags: set[str] = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def has_int8_dot_product() -> bool:
    """True when the CPU has a non-saturating int8 dot product (VNNI, AVX-VNNI, AMX or Arm dotprod)."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def has_native_bf16() -> bool:
    """True when the CPU multiplies bfloat16 in hardware (AVX512-BF16, AMX-BF16 or Arm's BF16 extension).

    Without it oneDNN emulates bf16 through fp32 conversions, and autocast only adds work.
    """
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")


def should_reduce_range() -> bool:
    """Quantize weights to 7 bits for ONNX Runtime on x86 CPUs whose int8 products can saturate."""
    return is_x86() and not has_int8_dot_product()


def cpu_summary() -> dict[str, object]:
    """CPU model, the int8- and bf16-relevant flags and the decisions they drive, for reports and benchmarks."""
    model = ""
    path = Path("/proc/cpuinfo")
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    flags = cpu_flags()
    return {
        "machine": platform.machine(),
        "model": model or platform.processor(),
        "flags": [flag for flag in INTERESTING_FLAGS if flag in flags],
        "int8_dot_product": has_int8_dot_product(),
        "reduce_range": should_reduce_range(),
        "native_bf16": has_native_bf16(),
    }
