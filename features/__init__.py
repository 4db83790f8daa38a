"""Frozen encoders of the Flickr tagging experiment (paper §4.2).

- ``features.cnn``: image features from an ImageNet CNN (entry point; ``backbones``, ``images``,
  ``store`` are its parts).
- ``features.skipgram``: skip-gram word vectors (entry point; ``corpora`` reads the text).
- ``features.tokens``: the tokenisation rules shared by every reader and the tagging experiment.
- ``features.mirflickr``: the MIR Flickr 25,000 layout (images, tags, annotations, split).
"""
