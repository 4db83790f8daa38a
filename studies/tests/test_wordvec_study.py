"""The word-vector study on the tiny generated MIR Flickr: each variant's decoding ceiling, chosen on
validation, and variants checked against the word-vector config's schema."""

import json

import pytest

from cgan.errors import ConfigError
from multimodal.inputs import prepare
from multimodal.sampling import make_decoder
from multimodal.settings import load_experiment
from studies import wordvec_study
from studies.flickr_diagnostics import decoding_ceiling
from tests.test_multimodal_pipeline import SMOKE, make_tiny_flickr

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # end to end: pytest -m "not slow" skips it


def test_wordvec_study_measures_each_variants_decoding_ceiling_on_validation(tmp_path):
    make_tiny_flickr(tmp_path / "data")
    settings = [f"run_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}"]
    args = ["--config", SMOKE, "--data-root", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"),
            "--threads", "1", *(arg for setting in settings for arg in ("--set", setting))]
    variants = tmp_path / "variants.yaml"
    variants.write_text('variants:\n  "as configured": []\n  "one epoch": ["word2vec.epochs=1"]\n')
    assert wordvec_study.main([*args, "--variants", str(variants)]) == 0
    out = tmp_path / "results" / "studies" / "wordvec_study"
    record = json.loads((out / "variants.json").read_text())
    assert list(record["variants"]) == ["as configured", "one epoch"] and record["best"] in record["variants"]
    for row in record["variants"].values():
        for split in ("valid", "test"):
            assert set(row["ceiling"][split]) == {"0", "1", "mean"}  # noise levels, one mean vector
            assert 0 <= row["ceiling"][split]["0"]["precision@10"] <= 1
    # The configured variant's vectors are the pipeline's own (same settings): same ceiling as diagnostics.
    cfg = load_experiment(SMOKE, settings)
    data = prepare(cfg, str(tmp_path / "data"), str(tmp_path / "cache"), run_stages=True).data
    expected = decoding_ceiling(data, data.valid, make_decoder(cfg, data), cfg.eval.samples, cfg.eval.top,
                                seed=cfg.eval.seed)
    assert record["variants"]["as configured"]["ceiling"]["valid"] == expected
    assert "| **" in (out / "variants.md").read_text()
    variants.write_text('variants:\n  "bad": ["word2vec.windw=5"]\n')
    with pytest.raises(ConfigError, match="variant 'bad'"):
        wordvec_study.main([*args, "--variants", str(variants)])
