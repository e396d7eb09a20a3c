"""onnxruntime sessions for vision stages that run side by side (edge.vision.analysis).

A keyframe's OCR runs beside its face, hand and classifier stages. OCR is
the long pole: on a page of text it runs for hundreds of ms after the others
have finished, so it may use every core (on two cores a page's keyframe takes
about 500 ms instead of 880 ms with one thread, while a textless one costs
under 10 ms more). The short stages get half the cores. Idle threads sleep
rather than spin, so a waiting stage does not steal the core its neighbour
is using.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort


def all_cores() -> int:
    """The cores this process may use: OCR's intra-op threads."""
    return len(os.sched_getaffinity(0))


def stage_threads() -> int:
    """Intra-op threads for a short vision stage: half the cores this process may use."""
    return max(1, all_cores() // 2)


def open_session(model: Path, threads: int) -> ort.InferenceSession:
    """A CPU session with the memory arena on (buffers reused between frames) and no
    spinning threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = True
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
