"""Tests of the word encoder: tokenisation rules, the MIR Flickr reader, the streaming corpus
readers (MIR Flickr, YFCC100M, plain text) and a small skip-gram training run."""

import bz2
import gzip
import json
import random

import numpy as np
import pytest
from gensim.models import KeyedVectors

from cgan.errors import ConfigError, DataError
from features.corpora import Concatenated, MirflickrTags, PlainText, Yfcc100mMetadata
from features.mirflickr import MirFlickr, image_number, is_train
from features.skipgram import main, train_word_vectors
from features.tokens import tag_token, tag_tokens, text_tokens
from tests.data_paths import real_root
from tests.fixtures_features import make_mirflickr

# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("tag, token", [
    ("sky", "sky"), ("New York", "newyork"), ("360°", "360"), ("plant_life", "plantlife"),
    ("ＳＫＹ", "sky"), ("Straße", "strasse"), ("españa", "españa"), ("ایران", "ایران"),
    ("a", None), ("!!", None), ("50mm", "50mm")])
def test_tag_token(tag, token):
    assert tag_token(tag) == token


def test_text_tokens_cleaning():
    text = "A dog's <b>big</b> day at http://x.com/p?q=1 &amp; the BEACH... (2007)"
    assert text_tokens(text) == ["dogs", "big", "day", "at", "the", "beach", "2007"]
    assert tag_tokens(["Sky", "", "a", "New  York"]) == ["sky", "newyork"]


# ---------------------------------------------------------------- MIR Flickr


@pytest.fixture
def mir_root(tmp_path):
    make_mirflickr(tmp_path / "data")
    return tmp_path / "data"


def test_mirflickr_reader(mir_root):
    ds = MirFlickr.at(mir_root)
    assert ds.image_numbers == [1, 2, 3, 15001]
    assert ds.image_path(2).is_file() and image_number(ds.image_path(15001)) == 15001
    assert ds.tags(1) == ["sky", "Clouds", "New York"] and ds.tags(3) == [] and ds.tags(999) == []
    assert ds.concepts(2) == ["dog", "plant_life", "sky"] and ds.concepts(3) == ["dog"]  # dog_r1 too
    assert ds.concepts(1) == ["sky"] and ds.concepts(999) == []
    assert is_train(15000, 15000) and not is_train(15001, 15000)


def test_mirflickr_missing_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError, match="mirflickr25k.zip"):
        MirFlickr.at(tmp_path)
    with pytest.raises(DataError, match="not a MIR Flickr image name"):
        image_number("photo.jpg")


def test_mirflickr_tag_corpus_reads_training_images_only(mir_root):
    corpus = MirflickrTags(MirFlickr.at(mir_root), train_max_image_id=15000)
    docs = list(corpus)
    assert docs == [["sky", "clouds", "newyork", "sky"],
                    ["dog", "cute", "sky", "dog", "plantlife", "sky"],
                    ["dog"]]  # image 3: no tags, one concept (annotations are extra tags)
    assert list(corpus) == docs  # re-iterable
    assert "secrettesttag" not in {w for d in docs for w in d}
    assert list(MirflickrTags(MirFlickr.at(mir_root), 15000, include_annotations=False)) == [
        ["sky", "clouds", "newyork"], ["dog", "cute", "sky"]]


# ---------------------------------------------------------------- YFCC100M and plain text


def yfcc_line(title, description, tags, marker="0", layout=23):
    """One line of the YFCC100M dataset file (fields URL-encoded, as distributed)."""
    fields = ["6985418911", "39089491@N00", "guckxzs", "2012-02-16 09:56:37.0", "1331840483",
              "Canon+PowerShot", title, description, tags, "", "-81.8", "24.5", "12",
              "http://www.flickr.com/photos/x/1/", "http://farm8.staticflickr.com/1.jpg",
              "Attribution License", "http://creativecommons.org/licenses/by/2.0/", "7205", "8",
              "abc", "def", "jpg", marker]
    if layout == 25:
        fields = ["0", fields[0], "4e2f7a26a1dfbf165a7e30bdabf7e72a", *fields[1:]]
    assert len(fields) == layout
    return "\t".join(fields) + "\n"


YFCC_LINES = [
    yfcc_line("Sunset+at+the+beach", "A+%3Cb%3Ebig%3C%2Fb%3E+wave%2C+see+http%3A%2F%2Fx.com",
              "new+york,nyc,%C3%A9t%C3%A9"),
    yfcc_line("IMG_0520", "", "", marker="1"),  # a video: left out by default
    "a\tmalformed\tline\n",
    yfcc_line("Dog", "My+dog%27s+ball", "dog,ball", layout=25),
    yfcc_line("", "", ""),  # no words at all: no document
]
YFCC_DOCS = [["newyork", "nyc", "été", "sunset", "at", "the", "beach", "big", "wave", "see"],
             ["dog", "ball", "dog", "my", "dogs", "ball"]]


@pytest.mark.parametrize("suffix, opener", [("", open), (".gz", gzip.open), (".bz2", bz2.open)])
def test_yfcc100m_reader(tmp_path, suffix, opener):
    path = tmp_path / f"yfcc100m_dataset{suffix}"
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.writelines(YFCC_LINES)
    corpus = Yfcc100mMetadata(path)
    assert list(corpus) == YFCC_DOCS and corpus.malformed == 1
    assert list(corpus) == YFCC_DOCS  # re-iterable
    only_tags = Yfcc100mMetadata(path, fields=["tags"], photos_only=False)
    assert list(only_tags) == [["newyork", "nyc", "été"], ["dog", "ball"]]  # the video has no tags


def test_yfcc100m_reader_fields_and_videos(tmp_path):
    path = tmp_path / "yfcc.txt"
    path.write_text("".join(YFCC_LINES), encoding="utf-8")
    assert list(Yfcc100mMetadata(path, fields=["tags"])) == [["newyork", "nyc", "été"], ["dog", "ball"]]
    with_videos = list(Yfcc100mMetadata(path, fields=["title"], photos_only=False))
    assert with_videos == [["sunset", "at", "the", "beach"], ["img", "0520"], ["dog"]]
    with pytest.raises(DataError, match="unknown YFCC100M field"):
        Yfcc100mMetadata(path, fields=["exif"])
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("one\ttwo\nthree\n")
    with pytest.raises(DataError, match="23 or 25 tab-separated fields"):
        list(Yfcc100mMetadata(wrong))


def test_plain_text_reader_and_concatenation(tmp_path, mir_root):
    path = tmp_path / "captions.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("1000268201_693b08cb0e.jpg#0\tA child in a pink dress .\nno tab here\n"
                     "x.jpg#1\tTwo dogs play .\n")
    captions = PlainText(path, column=1)
    assert list(captions) == [["child", "in", "pink", "dress"], ["two", "dogs", "play"]]
    assert captions.short_lines == 1
    whole = PlainText(path)
    assert list(whole)[1] == ["no", "tab", "here"]
    both = Concatenated([MirflickrTags(MirFlickr.at(mir_root), 2), captions])
    assert len(list(both)) == 2 + 2 and len(both.describe()) == 2
    with pytest.raises(DataError, match="does not exist"):
        list(PlainText(tmp_path / "absent.txt"))


# ---------------------------------------------------------------- skip-gram


def topic_sentences(count=300, seed=0):
    """Two topics that never share a document: animals and sea."""
    rng = random.Random(seed)
    topics = [["dog", "cat", "puppy", "kitten", "pet", "fur"],
              ["sea", "wave", "beach", "surf", "sand", "tide"]]
    return [rng.sample(topics[i % 2], 5) for i in range(count)]


def test_train_word_vectors_small_run_is_deterministic_and_meaningful():
    sentences = topic_sentences()
    settings = dict(min_count=1, epochs=5, seed=7, workers=1)
    vectors = train_word_vectors(sentences, **settings)
    again = train_word_vectors(sentences, **settings)
    assert isinstance(vectors, KeyedVectors) and vectors.vector_size == 200 and len(vectors) == 12
    assert vectors.vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors.vectors, again.vectors)  # one worker: bit for bit
    assert vectors.similarity("dog", "cat") > vectors.similarity("dog", "wave")
    other_seed = train_word_vectors(sentences, **{**settings, "seed": 8})
    assert not np.array_equal(other_seed.vectors, vectors.vectors)


def test_train_word_vectors_settings_are_checked():
    with pytest.raises(DataError, match="min_count"):
        train_word_vectors(topic_sentences(20))  # the paper's min_count 200 leaves nothing here
    with pytest.raises(ConfigError, match="unknown key"):
        train_word_vectors(topic_sentences(20), dimensions=10)
    with pytest.raises(ConfigError, match="window"):
        train_word_vectors(topic_sentences(20), window=0)
    assert train_word_vectors(topic_sentences(20), min_count=1, vector_size=8, epochs=1).vector_size == 8


def test_cli_trains_saves_and_reports(tmp_path, mir_root):
    (mir_root / "captions.txt").write_text("a.jpg#0\tA dog on the beach .\nb.jpg#0\tThe sky at night .\n")
    yfcc = tmp_path / "yfcc.txt"
    yfcc.write_text("".join(YFCC_LINES), encoding="utf-8")
    results, cache = tmp_path / "results", tmp_path / "cache"
    code = main(["--data-root", str(mir_root), "--cache-dir", str(cache), "--no-progress",
                 "--set", "corpus.text_files=[{path: captions.txt, column: 1}]", "--yfcc", str(yfcc),
                 "--set", "word2vec.min_count=1", "--set", "word2vec.epochs=2", "--set", "name=tiny",
                 "--set", f"results_dir={results}", "--set", "probe_words=[sky, dog, absentword]",
                 "--set", "neighbours=3"])
    assert code == 0
    vectors = KeyedVectors.load(str(cache / "flickr" / "wordvecs" / "tiny.kv"))
    assert vectors.vector_size == 200 and "sky" in vectors and "secrettesttag" not in vectors
    record = json.loads((results / "tiny.json").read_text())
    assert record["stats"]["documents"] == 3 + 2 + 2 and record["seed"] == 1234
    assert record["words_at_paper_min_count"] == 0
    assert record["stats"]["vocabulary"] == len(vectors) and record["config"]["word2vec"]["min_count"] == 1
    assert len(record["neighbours"]["sky"]) == 3 and record["neighbours"]["absentword"] is None
    assert record["tag_coverage"]["test"] == {"distinct_tags": 2, "in_vocabulary": 1}
    assert record["provenance"]["commit"] and record["wall_seconds"] > 0
    markdown = (results / "tiny.md").read_text()
    assert "Deviations from the paper" in markdown and "min_count 1 instead of 200" in markdown
    assert "| sky |" in markdown and "not in the vocabulary" in markdown
    assert "instead of the user tags" not in markdown.split("## Corpus and model")[0]  # YFCC100M was used


def test_cli_missing_corpus_file(tmp_path, mir_root):
    with pytest.raises(DataError, match="absent.txt"):
        main(["--data-root", str(mir_root), "--cache-dir", str(tmp_path), "--no-progress",
              "--set", "corpus.text_files=[{path: absent.txt}]"])


# ---------------------------------------------------------------- the real copy, when present


def test_real_mirflickr_copy_and_captions():
    """Counts from the data README: 20,015 images, 92,809 tags, 24 concepts, 40,460 captions."""
    root = real_root("mirflickr25k")
    real_root("text")
    ds = MirFlickr.at(root)
    assert len(ds.image_numbers) == 20015 and ds.image_numbers[0] == 1
    assert sum(len(ds.tags(n)) for n in ds.image_numbers) == 92809
    assert len({c for names in ds.annotations.values() for c in names}) == 24
    captions = PlainText(root / "text" / "flickr8k_captions.txt.gz", column=1)
    documents = sum(1 for _ in captions)  # a caption of one-letter words only gives no document
    assert 40450 <= documents <= 40460 and captions.short_lines == 0
