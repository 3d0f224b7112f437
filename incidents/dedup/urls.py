"""One spelling per article address, so the same article is recognised however it was shared.

``canonical_url`` drops what varies between copies of one link and never
between two articles: the scheme, ``www.``, mobile and AMP hosts and paths,
tracking parameters, default ports, the fragment, a trailing slash, the case of
the host. The result is stored on ``Report.canonical_url`` (indexed) and an equal
value is the engine's strongest signal.
"""

import contextlib
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

# Query parameters that say how a link travelled, never which article it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "source",
        "cmp",
        "cmpid",
        "ncid",
        "ocid",
        "smid",
        "smtyp",
        "sr_share",
        "share",
        "shared",
        "spm",
        "sh",
        "si",
        "feature",
        "via",
        "rss",
        "ito",
        "mbid",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "__twitter_impression",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "xtor",
        "wt.mc_id",
        "campaign_id",
        "trk",
        "trkcampaign",
        "intcmp",
        "int_source",
        "int_medium",
        "int_campaign",
        "amp",
        "amp_js_v",
        "usqp",
        "outputtype",
        "output",
        "m",
        "mobile",
        "utm",
    }
)
# Only dropped with these values: elsewhere they can name the article.
AMP_VALUES = frozenset({"amp", "1", "true", ""})
VALUE_SPECIFIC = {"outputtype": AMP_VALUES, "output": AMP_VALUES, "m": AMP_VALUES, "mobile": AMP_VALUES}
# Host prefixes of the mobile and AMP editions of a site.
HOST_PREFIXES = ("www.", "www2.", "m.", "mobile.", "amp.", "mobil.")
AMP_CACHE = re.compile(r"^[a-z0-9-]+\.cdn\.ampproject\.org$")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _decode_host_from_amp_path(path: str) -> str | None:
    """``/c/s/example.com/a`` (AMP cache) or ``/amp/s/example.com/a`` (Google): the original address."""
    match = re.match(r"^/(?:c/|v/|i/)?(?:amp/)?(s/)?(?P<rest>[^/]+\.[^/]+/.*)$", path)
    if match:
        return ("https://" if match.group(1) else "http://") + match.group("rest")
    return None


def _clean_path(path: str) -> str:
    path = unquote(path) if "%" in path else path
    path = re.sub(r"/{2,}", "/", path)
    segments = [s for s in path.split("/") if s]
    # AMP editions: /amp/..., .../amp, ...article.amp.html, ...article.amp
    segments = [s for s in segments if s.lower() not in {"amp", "amp.html", "mobile"}]
    if segments:
        last = segments[-1]
        last = re.sub(r"\.amp(\.html?)?$", lambda m: m.group(1) or "", last, flags=re.IGNORECASE)
        last = re.sub(r"^(index|default)\.(html?|php|aspx?)$", "", last, flags=re.IGNORECASE)
        segments[-1] = last
        segments = [s for s in segments if s]
    return "/" + "/".join(segments) if segments else ""


def _keep_param(name: str, value: str) -> bool:
    key = name.lower()
    if key.startswith(("utm_", "utm-", "pk_", "mtm_", "hmb_", "__hs", "oly_", "vero_")):
        return False
    if key in VALUE_SPECIFIC:
        return value.lower() not in VALUE_SPECIFIC[key]
    return key not in TRACKING_PARAMS


def canonical_url(url: str) -> str:
    """The address of the article with every variation between copies removed.

    Returns "" for an empty or unparseable value. The result keeps ``https://``
    so it still reads as an address, whatever scheme the link had."""
    url = (url or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    path = parts.path
    # An address served through an AMP cache or Google's AMP viewer: the original article.
    if AMP_CACHE.match(host) or (host in {"google.com", "www.google.com"} and path.startswith("/amp/")):
        original = _decode_host_from_amp_path(path)
        if original:
            query = f"?{parts.query}" if parts.query else ""
            return canonical_url(original + query)
    for prefix in HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    if port and str(port) not in DEFAULT_PORTS.values():
        host = f"{host}:{port}"
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if _keep_param(k, v)]
    query = urlencode(sorted(params))
    return f"https://{host}{_clean_path(path)}" + (f"?{query}" if query else "")


# Path words that say where a page sits on a site, never what it is about.
SLUG_NOISE = frozenset({"html", "htm", "php", "asp", "aspx", "cms", "amp", "index", "article", "articles", "story"})
SLUG_PIECES = re.compile(r"[-_+.]+")


def slug_words(url: str) -> str:
    """The words of an address's slug ("/2023/05/ai-voice-clone-scam-call.html" -> "voice clone
    scam call"): a headline in other words, often, and the only words but the title of a
    report that has no summary. Only a path segment of three or more words counts (not
    "/technology/" or an id); numbers are left out (the date is a signal of its own), and
    so are Latin words of one or two letters."""
    try:
        path = urlsplit(url or "").path
    except ValueError:
        return ""
    path = unquote(path) if "%" in path else path
    found: list[str] = []
    for segment in path.split("/"):
        pieces = [p for p in SLUG_PIECES.split(segment) if p.isalpha()]
        if len(pieces) >= 3:
            found += [p for p in pieces if (len(p) > 2 or not p.isascii()) and p.lower() not in SLUG_NOISE]
    return " ".join(found)
