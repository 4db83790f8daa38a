"""MNIST conditioned on the digit class: paper §4.1, Table 1 (Parzen log-likelihood) and Figure 2.

- ``download``, ``mnist_data``: the four IDX files (downloaded, verified, cached) and the splits.
- ``settings``: the config schema and the networks; ``train``: training (resumable); ``validation``:
  the per-epoch score; ``sampling``: samples in either mode; ``evaluate``: the Table 1 protocol.
- ``parzen``, ``classifier``: the scoring tools; ``real_reference``: real digits under the same
  protocol; ``generate``: samples from a checkpoint; ``report``: table1.md, curves.png and the
  README's Table 1, rebuilt from the JSON results; ``sweep``: this pipeline's sweep command.
"""


def __getattr__(name: str):
    """``from unimodal import load_generator`` (imported on first use, so that the report
    commands do not load torch)."""
    if name in ("load_generator", "MnistGenerator", "export_generator"):
        from unimodal import api

        return getattr(api, name)
    raise AttributeError(f"module 'unimodal' has no attribute {name!r}")
