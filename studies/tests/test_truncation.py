"""The truncation study's report: one row per threshold, the config's own sampling named."""

from studies.truncation import render


def test_the_report_names_each_threshold_and_the_untruncated_sampling():
    row = {"precision@10": 0.3, "precision@10_se": 0.01, "recall@10": 0.4, "distinct_words": 100, "sample_cosine": 0.8}
    record = {"provenance": {"command": "c", "commit": "x", "date": "d", "wall_seconds": 1.0}, "run": "r",
              "config": "c.yaml", "best_epoch": 2, "sampling": "deterministic",
              "rows": [{"truncation": None, **row}, {"truncation": 0.5, **row, "distinct_words": 40}]}
    text = render(record)
    assert "| none | 0.3000 ± 0.0100 | 0.4000 | 100 | 0.800 |" in text
    assert "| 0.5 | 0.3000 ± 0.0100 | 0.4000 | 40 | 0.800 |" in text
