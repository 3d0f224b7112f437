"""Embeddings: the int8 model made once per machine; many texts split across threads, the same as one by one."""

import os
from pathlib import Path

import numpy as np
import pytest

from incidents.dedup import embedding

TEXTS = [
    "Tesla Autopilot crash kills driver in Florida",
    "Chatbot gave a customer wrong refund advice; the airline must pay",
    "Deepfake video of a minister promoted an investment scam on social media, police warn",
    "Facial recognition misidentifies shopper",
    "",
    "Self-driving taxi blocks an ambulance on its way to an emergency in San Francisco, "
    "and the city asks the state to pause the expansion of the service until it is safe",
] * 7

pytestmark = pytest.mark.skipif(not embedding.enabled(), reason="the embedding model is not installed")


def test_threads_change_nothing(settings):
    settings.DEDUP_EMBED_THREADS = 1
    one = embedding.embed(TEXTS)
    settings.DEDUP_EMBED_THREADS = 3
    assert embedding.threads() == 3
    assert embedding.embed(TEXTS) == one
    assert len(set(one)) == 6  # six different texts, each its own vector


def test_a_text_embedded_among_others_is_the_text_embedded_alone():
    vecs = embedding.embed(TEXTS)
    assert all(vecs)
    # One text per model call: the activations are quantised per call, so a text's vector
    # does not depend on the texts embedded with it.
    for text, vec in zip(TEXTS[:6], vecs, strict=False):
        assert embedding.embed([text]) == [vec]
    together = embedding.decode_many([v for v in vecs if v])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=0.02)


def test_similar_texts_are_nearer_than_unrelated_ones():
    vecs = embedding.embed(
        [
            "Tesla Autopilot crash kills driver in Florida",
            "Driver dies after his Tesla on Autopilot hits a truck",
            "Chatbot gave a customer wrong refund advice; the airline must pay",
        ]
    )
    crash, crash_again, chatbot = embedding.decode_many([v for v in vecs if v])
    assert float(crash @ crash_again) > float(crash @ chatbot) + 0.2


def test_the_model_is_rewritten_once_with_int8_products(tmp_path):
    import onnx

    path = embedding.model_file(tmp_path)
    assert path.parent == tmp_path and path.name.startswith(embedding.QUANTISED)
    assert list(tmp_path.iterdir()) == [path]  # no work files left behind
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    written = path.stat().st_mtime_ns
    assert embedding.model_file(tmp_path) == path
    assert path.stat().st_mtime_ns == written  # made once, then reused


def test_an_unwritable_model_directory_falls_back_to_a_temporary_one(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = embedding.model_file(blocker / "models")
    assert path.exists() and not path.is_relative_to(tmp_path)
    assert Path(path).name.startswith(embedding.QUANTISED)


def test_by_default_threads_follow_the_cores(settings):
    settings.DEDUP_EMBED_THREADS = None
    assert embedding.threads() == min(4, len(os.sched_getaffinity(0)))


def test_a_failed_rewrite_falls_back_to_the_packages_model(monkeypatch, caplog):
    def broken(directory=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(embedding, "model_file", broken)
    embedding._model.cache_clear()
    try:
        [vec] = embedding.embed(["Facial recognition misidentifies shopper"])
        assert vec and embedding.decode(vec).shape == (embedding.DIM,)
        assert "running the package's model" in caplog.text
    finally:
        embedding._model.cache_clear()  # the next test loads the rewritten model again
