"""Embeddings: the int8 model made once per machine; many texts split across threads, the same as one by one."""

import logging
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


def test_the_model_is_rewritten_once_with_int8_products(tmp_path, caplog, monkeypatch):
    import onnx

    filters = []

    class Counted(embedding._FromPackage):
        def __init__(self, folder):
            super().__init__(folder)
            self.dropped = 0
            filters.append(self)

        def filter(self, record):
            kept = super().filter(record)
            self.dropped += not kept
            return kept

    monkeypatch.setattr(embedding, "_FromPackage", Counted)
    with caplog.at_level(logging.INFO):
        path = embedding.model_file(tmp_path)
        logging.getLogger("incidents").info("still heard")
    # The quantiser's own lines were dropped, and only those: the rest of the process still logs.
    assert filters and filters[0].dropped > 0
    assert not any("onnxruntime" in r.pathname for r in caplog.records)
    assert "wrote the embedding model" in caplog.text and "still heard" in caplog.text
    assert not logging.getLogger().filters and logging.root.manager.disable == logging.NOTSET
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


def test_a_missing_embedding_package_is_a_system_check_warning(monkeypatch, settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from incidents import checks

    assert checks.embedding_packages() == []  # installed with the project
    monkeypatch.setattr(embedding, "missing_packages", lambda: ["onnxruntime"])
    (warning,) = checks.embedding_packages()
    assert warning.id == "incidents.W001" and "onnxruntime" in warning.msg
    with pytest.raises(SystemCheckError, match=r"incidents\.W001"):
        call_command("check", fail_level="WARNING")
    settings.DEDUP_EMBEDDING = "none"  # turned off on purpose: nothing to warn about
    assert checks.embedding_packages() == []


def test_missing_packages_finds_what_cannot_be_imported(monkeypatch):
    monkeypatch.setattr(embedding, "PACKAGES", ("onnxruntime", "no_such_package_ic"))
    assert embedding.missing_packages() == ["no_such_package_ic"]
