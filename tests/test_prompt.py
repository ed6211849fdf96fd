"""clean_prompt's shortcut: text it recognises as already clean is exactly what a cleaning pass leaves alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sf_mcp.prompt import _ALREADY_CLEAN, _clean_pass, clean_prompt

# Printable ASCII and the characters cleaning acts on: spaces and other whitespace, "&" and "<", controls, bidi.
_TEXT = st.lists(st.sampled_from([chr(c) for c in range(0x20, 0x7f)] + ["\t", "\n", "\x00", "\x7f", "\u202e", "é",
                                                                       "&lt;", "<b>", "  "]), max_size=60).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_text_taken_as_already_clean_is_left_alone_by_a_pass(text: str) -> None:
    if _ALREADY_CLEAN.fullmatch(text):
        assert _clean_pass(text) == text == clean_prompt(text)


def test_the_shortcut_takes_plain_prompts_only() -> None:
    assert _ALREADY_CLEAN.fullmatch("bench payment 000001 a red fox, 4k (cinematic)!")
    for text in ("a  fox", " fox", "fox ", "a&amp;b", "a <b>fox", "a\tfox", "caf\u00e9", "a\x7ffox", ""):
        assert not _ALREADY_CLEAN.fullmatch(text)
    assert clean_prompt("a <b>red</b>  fox ") == "a red fox"
