"""The tagging experiment's data: images, their tags, the split, and the (image, tag) pairs.

Paper §4.2: images without any tag are left out; the concept annotations count as extra tags;
an image with n tags appears n times in the training set, once per tag (that tag's word
vector). Tags become words by the rules of ``features.tokens``, duplicates within an image
removed. A tag without a word vector cannot be a target, so it is dropped from the pairs (and
counted), but it stays in the image's ground truth that generated tags are scored against.

Split by image, never by pair: images numbered up to ``train_max_image_id`` train, the rest
test; the last ``valid_images`` training images (by number) are held out for validation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

from cgan.errors import DataError
from features.mirflickr import MirFlickr, image_number, is_train
from features.store import StoredFeatures
from features.tokens import tag_tokens
from multimodal.settings import DataSettings
from multimodal.tag_decoder import unit_rows
from multimodal.tuned_baselines import label_matrix


@dataclass
class ImageSplit:
    """Images of one split with their ground-truth tags and their (image, tag) pairs."""

    name: str
    numbers: np.ndarray  # image numbers, ascending
    rows: np.ndarray  # their rows in the features file
    tags: list[list[str]]  # per image: user tags + annotations as words (in or out of the vocabulary)
    pair_image: np.ndarray  # per pair: position of its image in this split
    pair_word: np.ndarray  # per pair: row of its tag in the word-vector matrix
    pairs_before_limit: int = 0  # before data.max_train_pairs (paper §4.2: the first 150,000 pairs)
    concepts: np.ndarray | None = None  # per image: 0/1 per concept of TagData.concept_names (with annotations)

    def __len__(self) -> int:
        return len(self.numbers)

    def summary(self) -> dict:
        return {"images": len(self), "pairs": len(self.pair_image),
                "tags": sum(map(len, self.tags)),
                "image_numbers": [int(self.numbers.min()), int(self.numbers.max())] if len(self) else None}


@dataclass
class TagData:
    train: ImageSplit
    valid: ImageSplit
    test: ImageSplit
    features: np.ndarray  # (N, D) float32, scaled as configured; row i = the features file's row i
    raw_features: np.ndarray  # the same rows as stored (cosine of nearest-neighbour transfer)
    words: list[str]  # word-vector vocabulary
    word_vectors: np.ndarray  # (V, d) float32, unit rows if configured
    stats: dict
    scaling: FeatureScaling | None = None  # how ``features`` came from ``raw_features`` (for new photos)
    concept_names: list[str] = field(default_factory=list)  # MIR Flickr's concepts (with annotations)

    @property
    def splits(self) -> dict[str, ImageSplit]:
        return {"train": self.train, "valid": self.valid, "test": self.test}

    def identity(self) -> str:
        """sha256 of what the networks are trained and selected on (images, pairs, words)."""
        h = hashlib.sha256()
        for split in self.splits.values():
            for array in (split.numbers, split.rows, split.pair_image, split.pair_word):
                h.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        h.update("\n".join(self.words).encode())
        return h.hexdigest()


def image_tags(dataset: MirFlickr, number: int, include_annotations: bool) -> tuple[list[str], list[str]]:
    """(user tags, user tags + annotations) of one image as words, each list without repeats."""
    user = list(dict.fromkeys(tag_tokens(dataset.tags(number))))
    if not include_annotations:
        return user, user
    return user, list(dict.fromkeys(user + tag_tokens(dataset.concepts(number))))


def feature_rows(stored: StoredFeatures) -> dict[int, int]:
    """Image number -> row of the features file (ids are imN.jpg paths; others are ignored)."""
    rows = {}
    for row, name in enumerate(stored.ids):
        if Path(name).stem.startswith("im") and Path(name).stem[2:].isdigit():
            rows[image_number(name)] = row
    return rows


def load_tag_data(dataset: MirFlickr, stored: StoredFeatures, vectors: KeyedVectors,
                  settings: DataSettings) -> TagData:
    """Read every image's tags, split by image, build the pairs, scale the features."""
    rows = feature_rows(stored)
    vocab = vectors.key_to_index
    kept: dict[str, list[tuple[int, list[str]]]] = {"train": [], "test": []}
    untagged = no_features = 0
    for number in dataset.image_numbers:
        user, tags = image_tags(dataset, number, settings.include_annotations)
        if not user:
            untagged += 1  # paper §4.2: images without any tag are left out
        elif number not in rows:
            no_features += 1  # unreadable image: listed in the features' failed.txt
        else:
            kept["train" if is_train(number, settings.train_max_image_id) else "test"].append((number, tags))
    cut = len(kept["train"]) - settings.valid_images
    if cut < 1 or not kept["test"]:
        raise DataError(f"the split leaves {max(cut, 0)} training, {settings.valid_images} validation and "
                        f"{len(kept['test'])} test images; change data.train_max_image_id or data.valid_images")
    train = _split("train", kept["train"][:cut], rows, vocab, settings.max_train_pairs)
    valid = _split("valid", kept["train"][cut:], rows, vocab)
    test = _split("test", kept["test"], rows, vocab)
    raw = np.asarray(stored.features)
    words = list(vectors.index_to_key)
    matrix = np.asarray(vectors.vectors, dtype=np.float32)
    if settings.center_word_vectors:  # remove the direction all skip-gram vectors share
        matrix = matrix - matrix.mean(axis=0, dtype=np.float64).astype(np.float32)
    stats = {
        "images_in_dataset": len(dataset.image_numbers), "left_out_untagged": untagged,
        "left_out_without_features": no_features, "annotations_as_tags": settings.include_annotations,
        "splits": {s.name: s.summary() for s in (train, valid, test)},
        "train_pairs_before_limit": train.pairs_before_limit,
        "out_of_vocabulary": _out_of_vocabulary((train, valid, test), vocab),
        "vocabulary": len(words), "word_dim": int(matrix.shape[1]),
        "feature_dim": int(raw.shape[1]), "backbone": stored.meta.get("backbone"),
    }
    scaling = FeatureScaling.fit(raw[train.rows], settings.feature_scaling, settings.vector_length)
    word_vectors = (unit_rows(matrix) if settings.unit_word_vectors else matrix) * np.float32(settings.vector_length)
    features = scaling.apply(raw)
    concept_names = []
    if settings.include_annotations:  # the auxiliary classifier's labels (cgan.objective)
        concept_names = all_concepts(dataset.annotations)
        for split in (train, valid, test):
            split.concepts = concept_matrix(dataset.annotations, split.numbers, concept_names)
    if settings.neighbour_centroid_k:
        centroids = neighbour_tag_centroids(unit_rows(features), train, word_vectors, settings.neighbour_centroid_k)
        features = np.hstack([features, centroids * np.float32(settings.vector_length)])
        stats["neighbour_centroid_k"] = settings.neighbour_centroid_k
    return TagData(train, valid, test, features, raw, words, word_vectors, stats, scaling, concept_names)


def all_concepts(annotations: dict[int, list[str]]) -> list[str]:
    """The concept names of MIR Flickr's annotations (MirFlickr.annotations), sorted."""
    return sorted({c for names in annotations.values() for c in names})


def concept_matrix(annotations: dict[int, list[str]], numbers: np.ndarray, names: list[str]) -> np.ndarray:
    """(images, concepts) float32: 1 where image ``numbers[i]`` is annotated with concept ``names[j]``."""
    position = {name: i for i, name in enumerate(names)}
    return label_matrix([[position[c] for c in annotations.get(int(n), [])] for n in numbers], len(names))


def neighbour_tag_centroids(unit_features: np.ndarray, train: ImageSplit, word_vectors: np.ndarray, k: int,
                            chunk: int = 2048) -> np.ndarray:
    """Per row of ``unit_features``: the unit mean of the tag vectors of its ``k`` most similar
    training images (cosine), never counting the image itself (a training image would otherwise
    see its own tags, which no test image can)."""
    per_image = np.zeros((len(train), word_vectors.shape[1]), dtype=np.float64)
    np.add.at(per_image, train.pair_image, unit_rows(word_vectors)[train.pair_word])
    per_image = unit_rows(per_image.astype(np.float32))
    train_features = unit_features[train.rows]
    own = np.full(len(unit_features), -1, dtype=np.int64)
    own[train.rows] = np.arange(len(train))
    out = np.empty((len(unit_features), word_vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(unit_features), chunk):
        similarity = unit_features[start:start + chunk] @ train_features.T
        rows = np.arange(start, min(start + chunk, len(unit_features)))
        mine = own[rows] >= 0
        similarity[np.flatnonzero(mine), own[rows][mine]] = -np.inf
        nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
        out[start:start + chunk] = unit_rows(per_image[nearest].sum(axis=1))
    return out


def _split(name: str, images: list[tuple[int, list[str]]], rows: dict[int, int], vocab: dict[str, int],
           max_pairs: int | None = None) -> ImageSplit:
    pair_image = [i for i, (_, tags) in enumerate(images) for t in tags if t in vocab]
    pair_word = [vocab[t] for _, tags in images for t in tags if t in vocab]
    return ImageSplit(name, np.array([n for n, _ in images], dtype=np.int64),
                      np.array([rows[n] for n, _ in images], dtype=np.int64), [tags for _, tags in images],
                      np.array(pair_image[:max_pairs], dtype=np.int64),
                      np.array(pair_word[:max_pairs], dtype=np.int64), len(pair_image))


def _out_of_vocabulary(splits, vocab: dict[str, int]) -> dict:
    """How many tags have no word vector (dropped from the pairs), per split and in all."""
    out = {}
    for split in splits:
        tags = [t for image in split.tags for t in image]
        missing = [t for t in tags if t not in vocab]
        out[split.name] = {"tags": len(tags), "dropped": len(missing), "distinct_dropped": len(set(missing)),
                           "images_without_any_vector": sum(all(t not in vocab for t in image)
                                                            for image in split.tags)}
    return out


@dataclass
class FeatureScaling:
    """How raw CNN features become the networks' input, with the training images' statistics
    (kept so that a new photo is scaled exactly as the training images were): 'standardize'
    (each dimension to zero mean, unit variance), 'l2' (each row to unit length), 'center_l2'
    (the mean subtracted, then each row to unit length) or 'none'."""

    how: str
    mean: np.ndarray | None = None  # float64, for 'center_l2' and 'standardize'
    std: np.ndarray | None = None  # float64, for 'standardize'
    length: float = 1.0  # multiplies the result (data.vector_length)

    @classmethod
    def fit(cls, train: np.ndarray, how: str, length: float = 1.0) -> FeatureScaling:
        train = np.asarray(train, dtype=np.float64)
        if how == "center_l2":
            return cls(how, train.mean(axis=0), length=length)
        if how == "standardize":
            return cls(how, train.mean(axis=0), train.std(axis=0), length=length)
        return cls(how, length=length)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        scaled = self._apply(raw)
        return scaled if self.length == 1.0 else scaled * np.float32(self.length)

    def _apply(self, raw: np.ndarray) -> np.ndarray:
        features = np.asarray(raw, dtype=np.float32)
        if self.how == "center_l2":
            return unit_rows(features - self.mean.astype(np.float32))
        if self.how == "standardize":
            return ((features - self.mean) / np.where(self.std > 1e-8, self.std, 1.0)).astype(np.float32)
        if self.how == "l2":
            return unit_rows(features)
        return features.copy()
