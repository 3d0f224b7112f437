"""Embeddings of many texts: split across threads, batched by length, the same as one by one."""

import os

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
    assert len(TEXTS) > 2 * embedding.BATCH  # so that there were several batches to share out


def test_a_text_embedded_among_others_is_the_text_embedded_alone():
    vecs = embedding.embed(TEXTS)
    assert all(vecs)
    together = embedding.decode_many([v for v in vecs if v])
    for text, vector in zip(TEXTS[:6], together, strict=False):
        [alone_vec] = embedding.embed([text])
        assert alone_vec
        alone = embedding.decode(alone_vec)
        # Padding is masked out; what is left is the int8 rounding of the stored vectors.
        assert float(alone @ vector) > 0.99
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=0.02)


def test_by_default_threads_follow_the_cores(settings):
    settings.DEDUP_EMBED_THREADS = None
    assert embedding.threads() == min(4, len(os.sched_getaffinity(0)))
