"""Train the skip-gram word vectors of the Flickr tagging experiment (paper §4.2).

The paper's model: skip-gram, 200 dimensions, trained on the user tags, titles and
descriptions of YFCC100M (about 100 million photos), words seen fewer than 200 times
dropped. This trains the same kind of model (gensim Word2Vec, sg=1) on the corpora named in
the config: MIR Flickr training tags plus annotations, plain-text files (e.g. the Flickr8k
captions) and, for users who have it, the YFCC100M dataset file (--yfcc). The vectors go to
<cache>/flickr/wordvecs/<name>.kv; a report with corpus size, vocabulary, training time and
the nearest neighbours of probe words goes to results/flickr/<name>.md (and .json).
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from gensim.models import KeyedVectors, Word2Vec

from cgan.cli import experiment_parser, run_cli
from cgan.config import from_dict, load_config, require
from cgan.errors import DataError
from cgan.runs.files import write_json
from cgan.runs.paths import cache_dir, data_root, portable
from features.corpora import Concatenated, MirflickrTags, PlainText, Yfcc100mMetadata
from features.mirflickr import MirFlickr, is_train
from features.reports import result_record, write_markdown_report
from features.tokens import tag_tokens

DEFAULT_CONFIG = "experiments/features/flickr_wordvecs.yaml"
PAPER_MIN_COUNT = 200  # paper §4.2
PAPER_VOCABULARY = 247_465  # paper §4.2


@dataclass
class Word2VecSettings:
    """gensim Word2Vec settings; the defaults are the paper's where it gives them, else gensim's."""

    vector_size: int = 200  # paper §4.2
    min_count: int = PAPER_MIN_COUNT  # paper §4.2
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 1e-4
    epochs: int = 5
    workers: int = 1
    seed: int = 1

    def check(self) -> None:
        for name in ("vector_size", "min_count", "window", "epochs", "workers"):
            require(getattr(self, name) >= 1, f"word2vec.{name} must be >= 1")
        require(self.negative >= 1, "word2vec.negative must be >= 1 (skip-gram with negative sampling)")
        require(self.sample >= 0, "word2vec.sample must be >= 0")
        require(0 < self.min_alpha <= self.alpha, "word2vec: need 0 < min_alpha <= alpha")


@dataclass
class TextFile:
    path: str  # relative paths are under the data root
    column: int | None = None  # None: the whole line; else this tab-separated field


@dataclass
class CorpusSettings:
    mirflickr_tags: bool = True
    include_annotations: bool = True
    train_max_image_id: int = 15000
    text_files: list[TextFile] = field(default_factory=list)
    yfcc100m_files: list[str] = field(default_factory=list)
    yfcc100m_fields: list[str] = field(default_factory=lambda: ["tags", "title", "description"])
    yfcc100m_photos_only: bool = True

    def check(self) -> None:
        require(self.train_max_image_id >= 1, "corpus.train_max_image_id must be >= 1")
        require(self.mirflickr_tags or self.text_files or self.yfcc100m_files,
                "corpus: name at least one source (mirflickr_tags, text_files, yfcc100m_files)")


@dataclass
class WordVectorSettings:
    """experiments/features/flickr_wordvecs.yaml"""

    name: str = "flickr_wordvecs"
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    word2vec: Word2VecSettings = field(default_factory=Word2VecSettings)
    probe_words: list[str] = field(
        default_factory=lambda: ["sky", "dog", "river", "night", "food", "portrait"])
    neighbours: int = 10
    output_dir: str | None = None  # None: <cache>/flickr/wordvecs
    results_dir: str = "results/flickr"

    def check(self) -> None:
        require(self.name.replace("_", "").replace("-", "").isalnum(),
                "name must be letters, digits, '-' and '_' (it names the output files)")
        require(self.neighbours >= 1, "neighbours must be >= 1")


def fit(sentences, settings: Word2VecSettings) -> tuple[Word2Vec, dict]:
    """Build the vocabulary (one pass), train (``epochs`` passes); also return corpus statistics."""
    model = Word2Vec(vector_size=settings.vector_size, sg=1, hs=0, negative=settings.negative,
                     window=settings.window, min_count=settings.min_count, sample=settings.sample,
                     alpha=settings.alpha, min_alpha=settings.min_alpha, epochs=settings.epochs,
                     workers=settings.workers, seed=settings.seed)
    started = time.perf_counter()
    model.build_vocab(corpus_iterable=sentences)
    vocab_seconds = time.perf_counter() - started
    stats = {"documents": model.corpus_count, "tokens": model.corpus_total_words,
             "vocabulary": len(model.wv)}
    if not len(model.wv):
        raise DataError(f"no word occurs {settings.min_count} times or more in the corpus "
                        f"({stats['documents']} documents, {stats['tokens']} words); "
                        "lower word2vec.min_count")
    started = time.perf_counter()
    model.train(corpus_iterable=sentences, total_examples=model.corpus_count, epochs=model.epochs)
    stats |= {"vocabulary_seconds": round(vocab_seconds, 2),
              "training_seconds": round(time.perf_counter() - started, 2)}
    return model, stats


def train_word_vectors(sentences, **settings) -> KeyedVectors:
    """Skip-gram word vectors from an iterable of word lists (re-iterable: it is read
    1 + epochs times). ``settings`` are those of ``Word2VecSettings`` (vector_size 200 ...)."""
    model, _ = fit(sentences, from_dict(Word2VecSettings, settings, "word2vec"))
    return model.wv


def build_corpus(settings: CorpusSettings, root: Path) -> Concatenated:
    def resolve(path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else root / p

    corpora: list = []
    if settings.mirflickr_tags:
        corpora.append(MirflickrTags(MirFlickr.at(root), settings.train_max_image_id,
                                     settings.include_annotations))
    for text in settings.text_files:
        path = resolve(text.path)
        if not path.is_file():
            raise DataError(f"text corpus {path} does not exist (relative paths are under the data "
                            f"root {root}); fix corpus.text_files or --data-root")
        corpora.append(PlainText(path, text.column))
    for name in settings.yfcc100m_files:
        path = resolve(name)
        if not path.is_file():
            raise DataError(f"YFCC100M file {path} does not exist (the dataset file yfcc100m_dataset"
                            "[.bz2] from Yahoo Webscope / the multimedia-commons bucket)")
        corpora.append(Yfcc100mMetadata(path, settings.yfcc100m_fields, settings.yfcc100m_photos_only))
    return Concatenated(corpora)


def neighbours(vectors: KeyedVectors, words: list[str], topn: int) -> dict[str, list | None]:
    """The ``topn`` nearest words (cosine) of each probe word; None where it is not in the vocabulary."""
    return {w: [[n, round(float(s), 3)] for n, s in vectors.most_similar(w, topn=topn)]
            if w in vectors.key_to_index else None for w in words}


def tag_coverage(vectors: KeyedVectors, dataset: MirFlickr, train_max_image_id: int) -> dict:
    """How many distinct MIR Flickr tags (with annotations) have a vector, for train and test
    images: the tagging experiment can only use or produce words of the vocabulary."""
    seen: dict[str, set[str]] = {"train": set(), "test": set()}
    for number in dataset.image_numbers:
        split = "train" if is_train(number, train_max_image_id) else "test"
        seen[split].update(tag_tokens(dataset.tags(number) + dataset.concepts(number)))
    return {split: {"distinct_tags": len(tags), "in_vocabulary": sum(t in vectors.key_to_index for t in tags)}
            for split, tags in seen.items()}


def deviations(cfg: WordVectorSettings, corpus: Concatenated, stats: dict, at_paper_min: int) -> list[str]:
    w2v = cfg.word2vec
    items = []
    if not cfg.corpus.yfcc100m_files:
        items.append(f"Corpus: {'; '.join(corpus.describe())} ({stats['documents']:,} documents, "
                     f"{stats['tokens']:,} words) instead of the user tags, titles and descriptions of "
                     "YFCC100M (about 100 million photos), which are not reachable here.")
    if w2v.min_count != PAPER_MIN_COUNT:
        items.append(f"min_count {w2v.min_count} instead of {PAPER_MIN_COUNT}: the corpus is orders of "
                     f"magnitude smaller than the paper's; at {PAPER_MIN_COUNT} only {at_paper_min:,} "
                     "words would remain.")
    items.append(f"Vocabulary: {stats['vocabulary']:,} words instead of {PAPER_VOCABULARY:,}.")
    items.append(f"Not given by the paper, chosen by us (see the config): window {w2v.window}, "
                 f"negative samples {w2v.negative}, sample {w2v.sample}, epochs {w2v.epochs}, "
                 f"learning rate {w2v.alpha} -> {w2v.min_alpha}.")
    if w2v.workers > 1:
        items.append(f"{w2v.workers} worker threads: gensim's result then depends on thread timing "
                     "(not bit-reproducible; workers 1 is).")
    return items


def report_body(stats: dict, near: dict, topn: int, coverage: dict | None, kv_path: Path) -> str:
    lines = ["## Corpus and model", "",
             f"- documents: {stats['documents']:,}; words: {stats['tokens']:,}",
             f"- vocabulary: {stats['vocabulary']:,} words; vectors: {kv_path.name} (under the cache dir)",
             f"- time: vocabulary scan {stats['vocabulary_seconds']:.1f} s, "
             f"training {stats['training_seconds']:.1f} s"]
    if coverage:
        lines += [f"- MIR Flickr tags with a vector ({split} images, annotations included): "
                  f"{c['in_vocabulary']:,} of {c['distinct_tags']:,}" for split, c in coverage.items()]
    lines += ["", f"## Nearest neighbours (cosine similarity), {topn} per probe word",
              "", "| probe | neighbours |", "|---|---|"]
    for word, found in near.items():
        cell = ", ".join(f"{n} ({s:.2f})" for n, s in found) if found else "*(not in the vocabulary)*"
        lines.append(f"| {word} | {cell} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        DEFAULT_CONFIG, prog="python -m features.skipgram", description=__doc__,
        epilog="--threads N sets word2vec.workers (gensim threads; 1 is bit-reproducible). "
               "example: python -m features.skipgram --set word2vec.epochs=5 --yfcc yfcc100m_dataset.bz2")
    parser.add_argument("--yfcc", action="append", default=[], metavar="FILE",
                        help="add a YFCC100M dataset file (plain, .gz or .bz2) to the corpus (repeatable)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for <name>.kv (default: <cache>/flickr/wordvecs)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="gensim's progress lines on stderr (default: on)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    overrides = list(args.overrides) + ([f"word2vec.workers={args.threads}"] if args.threads else [])
    cfg = load_config(WordVectorSettings, args.config, overrides)
    cfg.corpus.yfcc100m_files += args.yfcc
    if args.progress:
        logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
        logging.getLogger("gensim.models.word2vec").setLevel(logging.INFO)
    root = data_root(args.data_root)
    corpus = build_corpus(cfg.corpus, root)
    model, stats = fit(corpus, cfg.word2vec)
    out = Path(args.out or cfg.output_dir or cache_dir(args.cache_dir) / "flickr" / "wordvecs")
    out.mkdir(parents=True, exist_ok=True)
    kv_path = out / f"{cfg.name}.kv"
    model.wv.save(str(kv_path))
    vectors = model.wv
    at_paper_min = sum(int(vectors.get_vecattr(w, "count")) >= PAPER_MIN_COUNT for w in vectors.index_to_key)
    near = neighbours(vectors, cfg.probe_words, cfg.neighbours)
    coverage = (tag_coverage(vectors, MirFlickr.at(root), cfg.corpus.train_max_image_id)
                if cfg.corpus.mirflickr_tags else None)
    record = result_record(
        config=cfg, seed=cfg.word2vec.seed, wall_seconds=time.perf_counter() - started,
        deviations=deviations(cfg, corpus, stats, at_paper_min),
        corpus=corpus.describe(), stats=stats, words_at_paper_min_count=at_paper_min,
        tag_coverage=coverage, neighbours=near, vectors_file=portable(kv_path))
    results = Path(cfg.results_dir)
    write_json(record, results / f"{cfg.name}.json")
    body = report_body(stats, near, cfg.neighbours, coverage, kv_path)
    shown = {k: v for k, v in record.items() if k != "neighbours"}  # the table has them
    report = write_markdown_report(f"Skip-gram word vectors: {cfg.name}", shown, body,
                                   results / f"{cfg.name}.md")
    print(f"{stats['vocabulary']:,} words x {cfg.word2vec.vector_size} from {stats['documents']:,} "
          f"documents ({stats['tokens']:,} words) in {stats['training_seconds']:.0f} s -> {kv_path}; "
          f"report {report}")
    return 0


if __name__ == "__main__":
    run_cli(main)
