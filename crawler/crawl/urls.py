"""Canonical URLs: one article, one key, however a feed or a share button spelled its link."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "itm_", "at_")
_TRACKING_KEYS = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mkt_tok", "_hsenc",
                  "_hsmi", "cmpid", "ocid", "ref", "ref_src", "smid", "sr_share", "ncid", "guccounter",
                  "spm", "s_cid", "taid"}


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in _TRACKING_KEYS or key.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Drop the fragment and tracking parameters, lowercase scheme and host, drop default ports;
    keep meaningful query parameters (sorted) and the path as published."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.hostname and ":" in parts.hostname:          # IPv6 literal
        host = f"[{host}]" if not port else host
    # surrogateescape: percent-encoded bytes that are not UTF-8 (EUC-KR, Latin-1 queries) come
    # back exactly as they were, so ?id=%FF and ?id=%FE stay two articles
    pairs = parse_qsl(parts.query, keep_blank_values=True, errors="surrogateescape")
    query = [(k, v) for k, v in pairs if not _is_tracking(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(sorted(query), errors="surrogateescape"), ""))


def is_http_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")
