"""Streaming corpus readers for the skip-gram model: one list of words per document.

Each reader is re-iterable (gensim reads the corpus once to count words, then once per epoch)
and holds one line at a time, never the corpus. Words come from ``features.tokens``.

- ``MirflickrTags``: one document per *training* image: its tags plus its concept
  annotations (the paper counts annotations as extra tags). Test images are never read, so
  no test tag reaches the word model.
- ``Yfcc100mMetadata``: the YFCC100M dataset file as distributed (tab-separated, one photo per
  line, URL-encoded fields; plain, .gz or .bz2): user tags, title and description.
- ``PlainText``: one document per line, optionally one tab-separated column of it (e.g. the
  Flickr8k caption file, ``IMAGE#k<TAB>caption``).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote_plus

from cgan.errors import DataError
from features.mirflickr import MirFlickr, is_train
from features.tokens import tag_tokens, text_tokens

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def open_text(path: str | Path) -> TextIO:
    """A UTF-8 text file, decompressed on the fly by its suffix; bad bytes are replaced, not fatal."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"corpus file {path} does not exist")
    opener = _OPENERS.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="\n")


class MirflickrTags:
    """Tags + concept annotations of MIR Flickr images numbered up to ``train_max_image_id``."""

    def __init__(self, dataset: MirFlickr, train_max_image_id: int, include_annotations: bool = True):
        self.dataset, self.train_max_image_id = dataset, train_max_image_id
        self.include_annotations = include_annotations

    def describe(self) -> str:
        extra = " plus concept annotations" if self.include_annotations else ""
        latin1 = len(self.dataset.latin1_files)
        note = f" ({latin1} file(s) not UTF-8, read as Latin-1)" if latin1 else ""
        return f"MIR Flickr tags{extra} of training images 1..{self.train_max_image_id}{note}"

    def __iter__(self) -> Iterator[list[str]]:
        for number in self.dataset.image_numbers:
            if not is_train(number, self.train_max_image_id):
                continue
            tags = self.dataset.tags(number)
            if self.include_annotations:
                tags = tags + self.dataset.concepts(number)
            words = tag_tokens(tags)
            if words:
                yield words


# Column numbers of (title, description, user tags, photo/video marker) by number of fields:
# 23 in the original Webscope release; 25 in the later one that adds a line number and a hash.
YFCC_LAYOUTS = {23: (6, 7, 8, 22), 25: (8, 9, 10, 24)}
YFCC_FIELDS = ("tags", "title", "description")


class Yfcc100mMetadata:
    """Documents from a YFCC100M dataset file: user tags (each one word), title, description."""

    def __init__(self, path: str | Path, fields: Iterable[str] = YFCC_FIELDS, photos_only: bool = True):
        self.path, self.fields, self.photos_only = Path(path), tuple(fields), photos_only
        unknown = set(self.fields) - set(YFCC_FIELDS)
        if unknown:
            raise DataError(f"unknown YFCC100M field(s) {sorted(unknown)}; choose from {YFCC_FIELDS}")
        self.malformed = 0  # lines of the last pass that had neither layout

    def describe(self) -> str:
        return f"YFCC100M metadata ({', '.join(self.fields)}) from {self.path.name}"

    def __iter__(self) -> Iterator[list[str]]:
        self.malformed = lines = 0
        with open_text(self.path) as handle:
            for lines, line in enumerate(handle, 1):  # noqa: B007 - counted for the check below
                columns = line.rstrip("\n").split("\t")
                layout = YFCC_LAYOUTS.get(len(columns))
                if layout is None:
                    self.malformed += 1
                    continue
                title, description, tags, marker = (columns[i] for i in layout)
                if self.photos_only and marker.strip() == "1":
                    continue
                words = []
                if "tags" in self.fields and tags:
                    words += tag_tokens(unquote_plus(tag) for tag in tags.split(","))
                if "title" in self.fields:
                    words += text_tokens(unquote_plus(title))
                if "description" in self.fields:
                    words += text_tokens(unquote_plus(description))
                if words:
                    yield words
        if lines and self.malformed == lines:
            raise DataError(f"{self.path}: no line has the 23 or 25 tab-separated fields of a "
                            "YFCC100M dataset file")


class PlainText:
    """One document per line; with ``column``, only that tab-separated field of each line."""

    def __init__(self, path: str | Path, column: int | None = None):
        self.path, self.column = Path(path), column
        self.short_lines = 0  # lines of the last pass without that column

    def describe(self) -> str:
        where = f", column {self.column}" if self.column is not None else ""
        return f"plain text {self.path.name}{where}"

    def __iter__(self) -> Iterator[list[str]]:
        self.short_lines = 0
        with open_text(self.path) as handle:
            for line in handle:
                if self.column is not None:
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) <= self.column:
                        self.short_lines += 1
                        continue
                    line = fields[self.column]
                words = text_tokens(line)
                if words:
                    yield words


class Concatenated:
    """Several corpora read one after the other, re-iterable like each of them."""

    def __init__(self, corpora: list):
        self.corpora = corpora

    def describe(self) -> list[str]:
        return [c.describe() for c in self.corpora]

    def __iter__(self) -> Iterator[list[str]]:
        for corpus in self.corpora:
            yield from corpus
