"""Silencing what MediaPipe's C++ core writes straight to file descriptor 2.

LiteRT and absl log a dozen INFO/WARNING lines when a task model is created
("Created TensorFlow Lite XNNPACK delegate for CPU" …). They bypass Python's
logging, so the CLI's promise of one clear line per failure needs the
descriptor itself redirected while a model is created. The native_logs setting
(`COMPANION_NATIVE_LOGS=1`) keeps them, for debugging: the CLI calls
`keep_native_logs` once at start-up.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_keep = False


def keep_native_logs(keep: bool) -> None:
    """Let the native libraries' own log lines through (True) or silence them (False)."""
    global _keep
    _keep = keep


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    if _keep:
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
