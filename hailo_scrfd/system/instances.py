"""Several instances from one config: instance N listens on ``server.port + N`` and, on the CPU, takes its
ONNX Runtime threads from the cores it may run on (its CPU affinity, e.g. systemd's ``CPUAffinity=``)."""

from __future__ import annotations

import os

MAX_INSTANCE = 64


def instance_overrides(base_port: int, inference_threads: int, instance: int) -> dict[str, int]:
    """Config overrides (``section__key``) for instance ``instance`` (1..64) of a multi-instance setup."""
    if not 1 <= instance <= MAX_INSTANCE:
        raise ValueError(f"--instance must be 1 to {MAX_INSTANCE}, got {instance}")
    port = base_port + instance
    if port > 65535:
        raise ValueError(f"instance {instance} would listen on {port}, above 65535: lower server.port")
    overrides = {"server__port": port}
    if inference_threads == 0:  # ONNX Runtime would size its pool from all cores, not from this affinity
        overrides["onnx__threads"] = len(os.sched_getaffinity(0))
    return overrides
