"""The Flickr tagging experiment (paper §4.2, Table 2) and the tagging scores the paper never gave.

- ``pipeline``: ``make flickr-tags``, every stage below, each skipped when its inputs are unchanged.
- ``download``: MIR Flickr 25,000 from the data root, the cache, or the official archives.
- ``encoders``: the frozen encoders of ``features/`` run as keyed, cached stages.
- ``data``: split by image, (image, tag) pairs, vocabulary filtering; ``inputs``: the stages run,
  the data loaded and the run folders keyed, for one config.
- ``settings``: the config schema and the networks; ``train``: CGAN and regressor training (resumable).
- ``sampling``, ``tag_decoder``: generated vectors -> tag lists; ``validation``: the per-epoch score;
  ``baselines``, ``tuned_baselines``; ``metrics``: the tag scores and the collapse measures;
  ``decode_test_set``: every test image by every method (cached); ``paper_departures``: what
  differs from the paper; ``evaluate``: scores into metrics.json.
- ``report``: table2.md, table2.png and metrics.md, rebuilt from metrics.json; ``controls``: every
  method on one table; ``summary``: configurations side by side; ``baselines_report``.
- ``api`` (``load_tagger``, ``tag_image``), ``export``, ``tag``: a trained generator as a tagger.
"""


def __getattr__(name: str):
    """``from multimodal import load_tagger, tag_image`` (imported on first use, so that the
    report commands do not load torch)."""
    if name in ("load_tagger", "tag_image", "FlickrTagger", "export_tagger"):
        from multimodal import api

        return getattr(api, name)
    raise AttributeError(f"module 'multimodal' has no attribute {name!r}")
