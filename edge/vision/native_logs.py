"""Silencing what MediaPipe's C++ core writes straight to file descriptor 2.

LiteRT and absl log a dozen INFO/WARNING lines when a task model is created
("Created TensorFlow Lite XNNPACK delegate for CPU" …). They bypass Python's
logging, so the CLI's promise of one clear line per failure needs the
descriptor itself redirected while a model is created. `COMPANION_NATIVE_LOGS=1`
keeps them, for debugging.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    if os.environ.get("COMPANION_NATIVE_LOGS") == "1":
        yield
        return
    with contextlib.suppress(ValueError, OSError):
        sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
