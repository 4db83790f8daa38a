"""python -m multimodal.controls: one table of every Flickr method, and what D adds."""

import json

from multimodal.controls import measured_rows, render


def _metrics(folder, vectors, scores):
    folder.mkdir(parents=True)
    record = {"scores": {name: {"precision@10": p, "recall@10": p + 0.1, "distinct_words": words,
                                "precision@10_se": 0.002} for name, (p, words) in scores.items()},
              "inputs": {"word_vectors": vectors}}
    (folder / "metrics.json").write_text(json.dumps(record))


def test_what_d_adds_is_each_cgan_minus_g_without_d_and_other_word_vectors_are_named(tmp_path):
    _metrics(tmp_path / "controls" / "no_d", "a" * 64, {"cgan": (0.342, 48), "cgan-seed1": (0.342, 50)})
    _metrics(tmp_path / "auxiliary", "a" * 64, {"cgan": (0.333, 550), "cgan-seed1": (0.335, 552)})
    _metrics(tmp_path / "reconstruction", "b" * 64, {"cgan": (0.327, 673)})
    rows = measured_rows(tmp_path)
    assert [row["seeds"] for row in rows] == [2, 1, 2]  # control, then the CGANs in the table's order
    text = render(rows)
    assert "| `aaaaaaaa` |" in text and "| `bbbbbbbb` |" in text  # each row's word vectors
    adds = [line for line in text.splitlines() if line.startswith("- **What D adds**")]
    assert len(adds) == 2
    reconstruction, auxiliary = adds
    assert "-0.015 P@10 and +624 distinct words" in reconstruction and "two trainings" in reconstruction
    assert "-0.008 P@10 and +502 distinct words" in auxiliary and "two trainings" not in auxiliary
    assert "**For tagging photos, use**: G without D" in text  # the best row that is not a limit
