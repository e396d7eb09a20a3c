"""Answering a question, streamed piece by piece as the model writes it.

`QwenReasoner` runs the bundled Qwen2.5-Coder-0.5B-Instruct with transformers
on the CPU. The model ships as a Q4_K_M GGUF; unpacking that takes about half
a minute, so the first start saves the unpacked model (bfloat16 safetensors)
into the model cache and later starts load that in about a second.

`model.generate` blocks, so it runs on the reasoner's own worker thread and
hands text to the event loop as it is decoded. A flag checked between tokens
stops it as soon as the consumer goes away (barge-in, disconnect, timeout):
no answer nobody will hear keeps the CPU busy.

Every prompt opens with fixed instructions and worked examples, so recent
turns' key/value caches are kept (cloud/reasoning/prefix_cache.py) and a new prompt
reuses the one it shares the longest start with: only the camera data,
memories and question are computed.

`prefill` goes one step further: while the wearer is still being heard, the
conversation hands it the turn's prompt up to the question (instructions,
worked examples, what the camera read), and one forward pass leaves that in
the caches; at end of speech only the question and the answer are computed.
Greedy decoding from a cache is the same computation as without it, so the
answer does not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from cloud.assets import QWEN_SHA256, qwen_gguf_path, qwen_part_paths
from cloud.errors import ModelError
from cloud.reasoning.prefix_cache import PrefixCaches
from modelfiles import cache_dir

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]
UNPACKED_DIR_NAME = f"qwen2.5-coder-0.5b-instruct-{QWEN_SHA256[:16]}-bf16"
# Qwen's chat turns end with <|im_end|>; a base-style ending is <|endoftext|>. Stop at either.
_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    # JPEG keyframes shown with this message; only a backend configured for images sends them.
    images: tuple[bytes, ...] = ()


class Reasoner(Protocol):
    """Writes the answer to a conversation."""

    def stream(self, messages: Sequence[ChatMessage], *, max_new_tokens: int) -> AsyncIterator[str]:
        """The answer's text in pieces, as soon as each is written.

        Leaving the iteration early (break, cancellation, `aclose`) stops generation.
        """
        ...


@runtime_checkable
class Prefills(Protocol):
    """A reasoner that can compute a prompt's opening before the question is known."""

    async def prefill(self, messages: Sequence[ChatMessage], *, up_to: str) -> int:
        """Cache the prompt `messages` would make, up to the last `up_to` in it.

        Returns how many tokens were computed (0: already cached). Cancelling it
        before the worker starts skips it; once started it runs one forward pass.
        """
        ...


class _End:
    """Marks the end of one generation on the queue of pieces."""


_END = _End()


class QwenReasoner:
    """Qwen2.5-Coder-0.5B-Instruct, greedy decoding on the CPU (see `compute_dtype`)."""

    def __init__(
        self,
        *,
        cache: Path | None = None,
        threads: int | None = None,
        progress: Callable[[str], None] | None = None,
        dtype: str = "auto",
    ) -> None:
        import torch

        self._threads = threads or len(os.sched_getaffinity(0))
        torch.set_num_threads(self._threads)
        report = progress or (lambda _: None)
        self._model, self._tokenizer = _load(cache or cache_dir(), report)
        self.dtype = compute_dtype(chosen=dtype)
        self._model = _for_cpu(self._model, self.dtype)
        self._stop_ids = [
            token_id
            for token_id in self._tokenizer.convert_tokens_to_ids(list(_STOP_TOKENS))
            if isinstance(token_id, int) and token_id != self._tokenizer.unk_token_id
        ]
        # One worker: generations run one at a time, in the order they were asked for.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwen-generate")
        self._running = threading.Event()
        # Recent generations' key/value caches and the tokens they hold (worker thread only).
        self._caches = PrefixCaches()
        # How many prompt tokens the last generation took from a cache (worker thread only).
        self.last_reused_tokens = 0

    @property
    def generating(self) -> bool:
        """Whether `model.generate` is running on the worker thread right now."""
        return self._running.is_set()

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        inputs = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | _End] = asyncio.Queue()
        stop = threading.Event()
        streamer = _loop_streamer(self._tokenizer, loop, pieces)
        done = loop.run_in_executor(
            self._worker, self._generate, dict(inputs), max_new_tokens, streamer, stop
        )
        try:
            while not isinstance(piece := await pieces.get(), _End):
                if piece:
                    yield piece
            await done
        except Exception as exc:
            raise ModelError(f"the reasoner failed while answering: {exc}") from exc
        finally:
            stop.set()
            # Wait for the worker to notice (one token step): once the stream is
            # closed, the CPU is free for whatever comes next.
            with contextlib.suppress(Exception):
                await asyncio.shield(done)

    async def prefill(self, messages: Sequence[ChatMessage], *, up_to: str) -> int:
        text = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            tokenize=False,
        )
        cut = text.rfind(up_to)
        if cut <= 0:
            raise ValueError(f"the prompt has no {up_to!r} to prefill up to")
        ids = self._tokenizer(text[:cut], add_special_tokens=False, return_tensors="pt")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._worker, self._prefill, ids["input_ids"][0])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ModelError(f"the reasoner failed while reading the prompt: {exc}") from exc

    async def forget_prompts(self) -> None:
        """Drop every cached prompt (benchmarks: measure a prompt as if never seen)."""
        await asyncio.get_running_loop().run_in_executor(self._worker, self._caches.clear)

    def _prefill(self, tokens: torch.Tensor) -> int:
        import torch
        from transformers import DynamicCache

        # Half the cores: a prefill runs while speech recognition has the others, and two
        # thread pools each wanting every core slow both down more than either saves.
        torch.set_num_threads(max(1, self._threads // 2))
        past = self._caches.take(tokens)
        held = 0 if past is None else int(past.get_seq_length())
        if past is None:
            past = DynamicCache()
        if held < tokens.numel():
            with torch.inference_mode():
                self._model(
                    input_ids=tokens[None, held:],
                    past_key_values=past,
                    use_cache=True,
                    logits_to_keep=1,
                )
        self._caches.put(past, tokens)
        return tokens.numel() - held

    def _generate(
        self,
        inputs: dict[str, torch.Tensor],
        max_new_tokens: int,
        streamer: _LoopStreamer,
        stop: threading.Event,
    ) -> None:
        import torch

        self._running.set()
        try:
            if stop.is_set():
                return
            torch.set_num_threads(self._threads)  # OpenMP settings are per thread
            # Taken out of the pool: generate extends it in place, and it is lost if generate fails.
            past = self._caches.take(inputs["input_ids"][0])
            self.last_reused_tokens = 0 if past is None else int(past.get_seq_length())
            with torch.inference_mode():
                output = self._model.generate(
                    **inputs,
                    past_key_values=past,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    eos_token_id=self._stop_ids,
                    pad_token_id=self._tokenizer.pad_token_id,
                    streamer=streamer,
                    stopping_criteria=[_StopWhenSet(stop)],
                    return_dict_in_generate=True,
                )
            self._caches.put(output.past_key_values, output.sequences[0])
        finally:
            self._running.clear()
            streamer.send(_END)


class _StopWhenSet:
    """A stopping criterion: ends generation at the next token once the consumer has gone."""

    def __init__(self, flag: threading.Event) -> None:
        self._flag = flag

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        return torch.full(
            (input_ids.shape[0],), self._flag.is_set(), dtype=torch.bool, device=input_ids.device
        )


class _LoopStreamer(Protocol):
    def send(self, item: str | _End) -> None: ...


def _loop_streamer(
    tokenizer: Any, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | _End]
) -> _LoopStreamer:
    """transformers' TextStreamer, handing each finished piece of text to an asyncio queue.

    Like TextIteratorStreamer, but the consumer awaits instead of blocking a thread.
    """
    streamer: _LoopStreamer = _loop_streamer_class()(tokenizer, loop, queue)
    return streamer


@functools.cache
def _loop_streamer_class() -> type:
    from transformers import TextStreamer  # defined here: importing transformers is slow

    class LoopStreamer(TextStreamer):
        def __init__(
            self, tokenizer: Any, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | _End]
        ) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self._loop = loop
            self._queue = queue

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                self.send(text)

        def send(self, item: str | _End) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
                self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    return LoopStreamer


def _load(cache: Path, progress: Callable[[str], None]) -> tuple[Any, Any]:
    """The model and tokenizer, from the unpacked cache when it is there."""
    qwen_part_paths()  # the packages must be installed and intact either way
    unpacked = cache / UNPACKED_DIR_NAME
    if unpacked.is_dir():
        try:
            progress(f"loading the reasoner from {unpacked}…")
            return _load_unpacked(unpacked)
        except Exception as exc:  # a damaged cache: unpack again, once
            log.warning("unpacked reasoner at %s unusable (%s); unpacking again", unpacked, exc)
            shutil.rmtree(unpacked, ignore_errors=True)
    progress("joining the reasoner's GGUF parts…")
    gguf = qwen_gguf_path(cache)
    progress("unpacking the GGUF to bfloat16 (once; about half a minute)…")
    try:
        model, tokenizer = _unpack_gguf(gguf)
    except Exception as exc:
        raise ModelError(
            f"could not unpack the reasoner's GGUF {gguf}: {exc}; delete it and retry"
        ) from exc
    progress(f"saving the unpacked reasoner to {unpacked}…")
    _save_atomically(model, tokenizer, unpacked)
    return model, tokenizer


def compute_dtype(cpu_flags: str | None = None, chosen: str = "auto") -> str:
    """bfloat16 where the CPU computes in it natively, float32 everywhere else.

    Without AVX512-BF16 or AMX, PyTorch emulates bfloat16 matrix products:
    measured on a 2-core AVX2 EPYC, a 584-token prompt took 35 s in bfloat16
    and 6.7 s in float32. Dynamic int8 linear layers were faster still there
    (300-token prompt 2.0 s against 3.8 s, 11.5 tokens/s against 3.7) but are
    opt-in: activation scales follow the batch, so reusing a cached prompt
    start changes the answer, one of fifteen set questions got vaguer, and
    quantising adds 15 s to every start. `chosen` (the cloud.reasoner_dtype
    setting: bfloat16, float32, int8) overrides the choice; "auto" keeps it.
    """
    if chosen in ("bfloat16", "float32", "int8"):
        return chosen
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            cpu_flags = ""
    native = ("avx512_bf16", "amx_bf16")
    return "bfloat16" if any(flag in cpu_flags.split() for flag in native) else "float32"


def _for_cpu(model: Any, dtype: str) -> Any:
    import torch

    if dtype != "int8":
        return model.to(getattr(torch, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that it moves to torchao
        quantize: Any = torch.ao.quantization.quantize_dynamic  # untyped
        return quantize(model.to(torch.float32), {torch.nn.Linear}, dtype=torch.qint8)


def _load_unpacked(directory: Path) -> tuple[Any, Any]:
    import torch
    import transformers

    hf: Any = transformers  # untyped library: keep mypy's strictness for our own code
    with _quiet_transformers():
        tokenizer = hf.AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        model = hf.AutoModelForCausalLM.from_pretrained(
            str(directory), dtype=torch.bfloat16, local_files_only=True
        )
    model.eval()
    return model, tokenizer


def _unpack_gguf(gguf: Path) -> tuple[Any, Any]:
    """Dequantise the GGUF into a transformers model.

    `from_pretrained(gguf_file=…)` would do this too, but in transformers 5.23 it
    insists on `accelerate`, which this project does not otherwise need; the
    steps below are the same ones it takes, minus device placement.
    """
    import torch
    import transformers
    from transformers import initialization, modeling_gguf_pytorch_utils

    hf: Any = transformers
    gguf_utils: Any = modeling_gguf_pytorch_utils
    with _quiet_transformers():
        tokenizer = hf.AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        config = hf.AutoConfig.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        with initialization.no_init_weights():  # every weight is overwritten from the file below
            model = hf.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        tensors = gguf_utils.load_gguf_checkpoint(
            str(gguf), return_tensors=True, model_to_load=model, torch_dtype=torch.bfloat16
        )["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ModelError(
            f"GGUF weights do not fit the model: missing {missing}, extra {unexpected}"
        )
    model.eval()
    return model, tokenizer


def _save_atomically(model: Any, tokenizer: Any, destination: Path) -> None:
    """Write into a temporary folder and rename it: never a half-written model under the name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=destination.name + "."))
    try:
        with _quiet_transformers():
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is ordinary files
        os.rename(tmp, destination)
    except OSError as exc:
        if destination.is_dir():  # another process finished first; its copy is as good
            return
        raise ModelError(
            f"could not save the unpacked reasoner to {destination}: {exc}; "
            "free some disk space or set COMPANION_CACHE"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bars on the console while loading: the caller reports progress."""
    from transformers.utils import logging

    hf_logging: Any = logging
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
