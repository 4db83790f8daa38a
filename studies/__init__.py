"""One-off studies beside the two experiments: each measures one question once and writes its report
under results/<experiment>/studies/. They import the pipelines (cgan, unimodal, multimodal,
features); no pipeline imports them.

MNIST (results/mnist/studies/):
- ``ablation``: what makes the conditional generator use its noise, over the trials of sweeps.
- ``trajectories``: runs of one configuration side by side, from their results files.
- ``noise_use``: does G spread its samples through z or through dropout?

Flickr (results/flickr/studies/):
- ``flickr_diagnostics``: the ceiling of the decoding, and chosen runs' per-epoch collapse measures.
- ``wordvec_study``: the decoding's ceiling per skip-gram variant of the word vectors.
"""
