"""Canonical addresses: copies of one article meet, different articles do not."""

import pytest

from incidents.dedup.urls import canonical_url, slug_words

ARTICLE = "https://theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged"


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged",
        "http://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged/",
        "https://WWW.TheGuardian.com:443/technology/2023/feb/17/bing-chatbot-unhinged#comments",
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged?utm_source=twitter&utm_medium=x",
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged?fbclid=IwAR0abc&gclid=xyz",
        "https://amp.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged",
        "https://m.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged",
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged/amp",
        "https://www.theguardian.com/amp/technology/2023/feb/17/bing-chatbot-unhinged",
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged?amp",
        "https://www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged?outputType=amp",
        "https://www-theguardian-com.cdn.ampproject.org/c/s/www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged",
        "https://www.google.com/amp/s/www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged",
        "  www.theguardian.com/technology/2023/feb/17/bing-chatbot-unhinged  ",
    ],
)
def test_variants_of_one_article_have_one_canonical_url(variant):
    assert canonical_url(variant) == ARTICLE


def test_amp_html_suffix_is_the_article():
    assert canonical_url("https://www.nytimes.com/2020/01/a.amp.html") == canonical_url(
        "https://nytimes.com/2020/01/a.html"
    )


def test_mobile_and_default_ports_are_dropped_but_other_ports_kept():
    assert canonical_url("http://mobile.example.org:80/a") == "https://example.org/a"
    assert canonical_url("http://example.org:8080/a") == "https://example.org:8080/a"


def test_parameters_that_name_the_article_are_kept_and_sorted():
    assert canonical_url("https://example.org/story.php?id=5&utm_campaign=x&page=2") == (
        "https://example.org/story.php?id=5&page=2"
    )
    assert canonical_url("https://www.youtube.com/watch?v=abc&feature=share") == "https://youtube.com/watch?v=abc"


def test_different_articles_stay_different():
    assert canonical_url("https://example.org/news/1") != canonical_url("https://example.org/news/2")
    assert canonical_url("https://example.org/story?id=1") != canonical_url("https://example.org/story?id=2")
    assert canonical_url("https://one.example.org/a") != canonical_url("https://two.example.org/a")


def test_path_case_is_kept_and_host_case_is_not():
    assert canonical_url("https://Example.ORG/Path/Case") == "https://example.org/Path/Case"


@pytest.mark.parametrize("value", ["", "   ", "http://", "not a url at all::"])
def test_empty_or_broken_values_give_an_empty_or_plain_string(value):
    assert isinstance(canonical_url(value), str)
    assert canonical_url("") == ""


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (ARTICLE, "bing chatbot unhinged"),
        (
            "https://www.dailymail.co.uk/sciencetech/article-5358365/YouTube-Kids-app-showing-disturbing-videos.html",
            "YouTube Kids app showing disturbing videos",
        ),
        ("https://example.org/news/2020/ai_voice_clone_scam_call.amp.html", "voice clone scam call"),
        ("https://www.asahi.com/articles/%E9%A1%94-%E8%AA%8D%E8%A8%BC-%E8%AA%A4%E8%AA%8D", "顔 認証 誤認"),
    ],
)
def test_the_words_of_a_slug_are_read_from_the_path(url, words):
    assert slug_words(url) == words


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://example.org/",
        "https://example.org/technology/2023/05/17/",
        "https://example.org/article/12345?title=one-two-three",
        "https://example.org/p/ab-cd-ef",
        "http://[::1",
    ],
)
def test_an_address_without_a_slug_gives_no_words(url):
    assert slug_words(url) == ""
