"""MNIST conditioned on the digit class: paper §4.1, Table 1 (Parzen log-likelihood) and Figure 2.

- ``download``, ``mnist_data``: the four IDX files (downloaded, verified, cached) and the splits.
- ``experiment``: the config and the networks; ``train``: training (resumable); ``validation``:
  the per-epoch score; ``sampling``: samples in either mode; ``evaluate``: the Table 1 protocol.
- ``parzen``, ``classifier``: the scoring tools; ``generate``: samples from a checkpoint;
  ``report``: table1.md and curves.png, rebuilt from the JSON results.
"""


def __getattr__(name: str):
    """``from unimodal import load_generator`` (imported on first use, so that the report
    commands do not load torch)."""
    if name in ("load_generator", "MnistGenerator", "export_generator"):
        from unimodal import api

        return getattr(api, name)
    raise AttributeError(f"module 'unimodal' has no attribute {name!r}")
