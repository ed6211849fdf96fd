"""What a prompt may be: plain text of at most 1000 UTF-8 bytes, cleaned once so that the chain, the job
row and the contract all see the same text.

A leaf module (like ``config`` and ``errors``): the tools, the domain, the payment checks on chain and
the indexer all apply this one rule, and none of them depends on another for it.
"""

from __future__ import annotations

import html
import re
import unicodedata

from sf_mcp.errors import InvalidRequest

__all__ = ["MAX_PROMPT_BYTES", "MAX_RAW_PROMPT_CHARS", "clean_prompt"]

MAX_PROMPT_BYTES = 1000  # the payment contract's limit; a longer prompt could never be paid for
# A tag starts where an HTML parser starts one: "<" then a letter, "/", "!" (comments, doctype) or "?".
# It ends at ">" or, for a broken tag, right before the next "<" or at the end, so "<img<b> ..." loses
# both openers. A bare "a < b > c" is text, not markup, and is kept.
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>?")
# Bidirectional overrides can make a prompt read differently from what is sent: never keep them.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_WHITESPACE = re.compile(r"\s+")
# Text a cleaning pass would leave as it is, recognised at C speed (the indexer cleans every paid prompt of a
# block range): printable ASCII without "&" or "<" (no entity, tag or comment can start), words separated by
# single spaces, none at either end.
_WORD = r"[\x21-\x25\x27-\x3b\x3d-\x7e]+"
_ALREADY_CLEAN = re.compile(f"{_WORD}(?: {_WORD})*")
# Longer raw input is refused before cleaning: each pass is linear, and nested entities
# ("&amp;amp;lt;") take one pass per level, so this bounds the work per prompt.
MAX_RAW_PROMPT_CHARS = 8 * MAX_PROMPT_BYTES


def clean_prompt(text: str) -> str:
    """Return ``text`` as plain text: no markup tags, entities, control characters or runs of whitespace.

    The prompt is stored, shown in galleries and posted on chain, so its output must never hold
    an HTML tag, not even one that appears only after decoding an entity (``&lt;b&gt;``) or after
    removing another tag (``<img<b> src=x>``). One cleaning pass is repeated until nothing changes,
    which also makes the function idempotent. Everything else the user typed (punctuation, emoji,
    other scripts, ``a < b``) is kept. Raises :class:`InvalidRequest` naming ``prompt`` when nothing
    is left or the result is over :data:`MAX_PROMPT_BYTES` UTF-8 bytes, because the contract would
    refuse to record it.
    """
    if not isinstance(text, str):
        raise InvalidRequest("prompt: must be a string")
    if len(text) > MAX_RAW_PROMPT_CHARS:
        raise InvalidRequest(
            f"prompt: is {len(text)} characters; the limit is {MAX_RAW_PROMPT_CHARS} before cleaning "
            f"and {MAX_PROMPT_BYTES} UTF-8 bytes after"
        )
    while not _ALREADY_CLEAN.fullmatch(text):
        cleaned = _clean_pass(text)
        if cleaned == text:
            break
        text = cleaned
    if not text:
        raise InvalidRequest("prompt: is empty (after removing markup and control characters)")
    size = len(text.encode("utf-8"))
    if size > MAX_PROMPT_BYTES:
        raise InvalidRequest(f"prompt: is {size} bytes after cleaning; the limit is {MAX_PROMPT_BYTES} UTF-8 bytes")
    return text


def _clean_pass(text: str) -> str:
    """One pass of :func:`clean_prompt`; it never lengthens the text, so repeating it ends."""
    text = html.unescape(text)
    text = _COMMENT.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = text.translate(_BIDI)
    # Control characters (Cc) go; whitespace controls (\n, \t) become spaces first.
    text = "".join(
        " " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc"
    )
    return _WHITESPACE.sub(" ", text).strip()
