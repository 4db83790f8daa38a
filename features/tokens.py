"""Tokenisation and cleaning rules: the one place that turns tags and text into words.

Every corpus reader (MIR Flickr tags, YFCC100M metadata, plain text) and the tagging
experiment use these functions, so a word means the same thing in the word model, in the
training tags and in the generated tags.

Rules (the paper gives none; these follow how Flickr itself normalises tags):

1. Unicode NFKC normalisation, then case folding ("Straße" -> "strasse", "ＳＫＹ" -> "sky").
2. A *tag* is one token: every character that is not a letter or digit is removed, as in
   Flickr's normalised tags (the form found in MIR Flickr ``meta/tags`` and YFCC100M):
   "New York" -> "newyork", "360°" -> "360". MIR Flickr concept names are tags too:
   "plant_life" -> "plantlife".
3. *Free text* (titles, descriptions, captions) is first cleaned: HTML entities decoded,
   HTML tags and web addresses removed. Apostrophes inside words are dropped
   ("dog's" -> "dogs"); every other non-letter, non-digit character separates words.
4. Tokens shorter than ``MIN_LENGTH`` characters are dropped (single letters and digits
   carry no meaning as tags and would only crowd the vocabulary).
5. URL-decoding (``%20`` and ``+`` as space) belongs to the YFCC100M file format and is done
   by its reader before these rules apply.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

MIN_LENGTH = 2
_HTML_TAG = re.compile(r"<[^>]*>")
_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")
_NOT_WORD = re.compile(r"[\W_]+")  # \W is Unicode-aware: letters and digits of every script stay


def normalise(text: str) -> str:
    """Rule 1: NFKC and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def tag_token(tag: str) -> str | None:
    """Rules 1, 2 and 4: one tag as one word, or None if nothing meaningful is left."""
    token = _NOT_WORD.sub("", normalise(tag))
    return token if len(token) >= MIN_LENGTH else None


def tag_tokens(tags: Iterable[str]) -> list[str]:
    """Each tag as one word, in order, empty ones left out (duplicates kept)."""
    return [token for token in map(tag_token, tags) if token]


def text_tokens(text: str) -> list[str]:
    """Rules 1, 3 and 4: free text as a list of words."""
    text = _WEB_ADDRESS.sub(" ", _HTML_TAG.sub(" ", html.unescape(text)))
    text = _APOSTROPHE.sub("", normalise(text))
    return [word for word in _NOT_WORD.split(text) if len(word) >= MIN_LENGTH]
