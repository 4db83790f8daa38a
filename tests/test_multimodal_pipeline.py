"""End to end on a tiny MIR-Flickr-shaped data set: features (the real lite0 network), word
vectors (gensim), CGAN and regressor training, decoding, scores, Table 2; then a second run that
skips every stage."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cgan.errors import ConfigError, UserFacingError
from cgan.runs.checkpoint import load_checkpoint
from multimodal import evaluate, export, pipeline, report, tag, train
from multimodal.api import load_tagger
from multimodal.decode_test_set import tags_and_spread
from multimodal.inputs import prepare
from multimodal.sampling import cgan_samplings, make_decoder
from multimodal.settings import build_networks, load_experiment

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # end to end: pytest -m "not slow" skips it

REPO = Path(__file__).resolve().parent.parent
SMOKE = str(REPO / "experiments" / "flickr" / "flickr_smoke.yaml")

# Three kinds of picture, each with its own colour and its own tags; numbers above 15,000 test.
TOPICS = {
    "beach": ((40, 110, 220), ["sea", "sand", "beach", "waves", "summer"]),
    "forest": ((40, 160, 60), ["tree", "forest", "green", "nature", "leaves"]),
    "city": ((120, 120, 120), ["street", "city", "building", "urban", "night"]),
}
CONCEPTS = {"sea": "beach", "tree": "forest", "structures": "city"}  # annotation file -> topic


def tiny_images() -> dict[int, tuple[str, list[str]]]:
    """Image number -> (topic, tags): 21 training images (one untagged), 12 test images."""
    numbers = [*range(1, 22), *range(15001, 15013)]
    images = {}
    for i, number in enumerate(numbers):
        topic = list(TOPICS)[i % 3]
        words = TOPICS[topic][1]
        images[number] = (topic, [words[i % 5], words[(i + 1) % 5], words[(i + 2) % 5].upper()])
    images[4] = ("beach", [])  # no tags: left out (paper §4.2)
    images[15001] = ("beach", ["sea", "unseenword"])  # a test tag the word model never saw
    return images


def make_tiny_flickr(data_root: Path) -> dict[int, tuple[str, list[str]]]:
    """The official layout: mirflickr/imN.jpg, mirflickr/meta/tags/tagsN.txt, annotations/."""
    images = tiny_images()
    folder = data_root / "mirflickr25k" / "mirflickr"
    (folder / "meta" / "tags").mkdir(parents=True)
    (data_root / "mirflickr25k" / "annotations").mkdir()
    rng = np.random.default_rng(0)
    for number, (topic, tags) in images.items():
        colour = np.array(TOPICS[topic][0]) + rng.integers(-20, 20, 3)
        pixels = np.clip(colour + rng.normal(0, 12, (48, 48, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"im{number}.jpg", quality=90)
        (folder / "meta" / "tags" / f"tags{number}.txt").write_text("".join(f"{t}\n" for t in tags))
    for concept, topic in CONCEPTS.items():
        members = [n for n, (t, _) in images.items() if t == topic]
        suffix = "_r1" if concept == "sea" else ""  # the stricter "relevant" files count too
        (data_root / "mirflickr25k" / "annotations" / f"{concept}{suffix}.txt").write_text(
            "".join(f"{n}\n" for n in members))
    return images


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("flickr")
    make_tiny_flickr(root / "data")
    args = ["--config", SMOKE, "--data-root", str(root / "data"), "--cache-dir", str(root / "cache"),
            "--threads", "1", "--set", f"run_dir={root / 'runs'}", "--set", f"results_dir={root / 'results'}"]
    assert pipeline.main(args) == 0
    return root, args


def test_pipeline_writes_scores_table2_and_figure(smoke_run):
    root, _ = smoke_run
    results = root / "results"
    record = json.loads((results / "metrics.json").read_text())
    assert set(record["scores"]) == {"frequent", "knn", "regressor", "cgan/dropout", "cgan/deterministic"}
    for scores in record["scores"].values():
        assert scores["images"] == 12
        for name in ("precision@10", "recall@10", "recall@10_in_vocabulary", "any_hit@10"):
            assert 0 <= scores[name] <= 1
    splits = record["data"]["splits"]
    assert (splits["train"]["images"], splits["valid"]["images"], splits["test"]["images"]) == (16, 4, 12)
    assert record["data"]["left_out_untagged"] == 1
    assert record["data"]["out_of_vocabulary"]["test"]["distinct_dropped"] == 1  # "unseenword"
    assert record["data"]["feature_dim"] == 1280 and record["data"]["backbone"] == "efficientnet-lite0"
    assert record["training"]["cgan"]["epochs_run"] == 2
    cgan_epoch = record["training"]["cgan"]["history"][0]  # collapse diagnostics, every epoch
    assert {"valid_d_matched", "valid_d_mismatched", "valid_distinct_words", "valid_sample_cosine",
            "valid_sample_cosine_dropout"} <= set(cgan_epoch)
    assert 0 < cgan_epoch["valid_d_matched"] < 1 and -1 <= cgan_epoch["valid_sample_cosine"] <= 1
    test_diagnostics = record["diagnostics"]  # the same diagnostics on the test images, per method
    for mode in ("cgan/dropout", "cgan/deterministic"):
        assert -1 <= test_diagnostics[mode]["sample_cosine"] <= 1 and 0 < test_diagnostics[mode]["d_matched"] < 1
    assert set(test_diagnostics["regressor"]) == set()  # one vector per image and no D: nothing to measure
    assert "| sample cosine | D own / other image |" in (results / "metrics.md").read_text()
    for row in record["table2"]:  # what the voting chose from, on the samples that were decoded
        words = [word for word, _ in row["votes"]]
        assert words[:10] == row["generated"][f"cgan/{record['headline_sampling']}"]
        assert all(0 < count <= 100 for _, count in row["votes"])
    assert (results / "votes.png").stat().st_size > 0
    regressor_epoch = record["training"]["regressor"]["history"][0]
    assert "g_loss" in regressor_epoch and "d_loss" not in regressor_epoch  # no discriminator, no D numbers
    assert record["evaluation"]["commit"] and record["deviations"]
    table = (results / "table2.md").read_text()
    assert len(record["table2"]) == 10
    for row in record["table2"]:
        assert f"| im{row['image']} |" in table and len(row["generated"]["cgan/dropout"]) == 10
    assert "efficientnet-lite0" in table and "Deviations from the paper" in table
    assert "(b) nearest-neighbour tag transfer" in (results / "metrics.md").read_text()
    assert (results / "table2.png").stat().st_size > 10_000
    assert (results / "curves.png").stat().st_size > 10_000
    assert "Training length" not in table  # both runs used their whole (smoke) budget
    assert (results / "features_efficientnet-lite0.json").is_file()  # the encoders' own reports
    assert (results / "smoke_wordvecs.json").is_file()


def test_second_run_skips_every_stage(smoke_run, capsys):
    root, args = smoke_run
    assert pipeline.main(args) == 0
    out = capsys.readouterr().out
    assert "stage features: skipped" in out and "stage wordvecs: skipped" in out
    assert out.count("resumed") == 2  # both finished runs found, nothing trained
    record = json.loads((root / "results" / "metrics.json").read_text())
    assert record["decoded_cached"] is True


def test_stage_commands_work_alone(smoke_run, capsys):
    root, args = smoke_run
    assert train.main(args) == 0  # finished runs: resumed, not trained again
    assert evaluate.main(args) == 0
    assert report.main(["--results", str(root / "results")]) == 0
    out = capsys.readouterr().out
    assert "stage features: not run" in out and out.count("resumed") == 2
    with pytest.raises(UserFacingError, match="train first"):
        evaluate.main([*args, "--set", "seed=99"])  # other settings: no checkpoint for them


def test_an_exported_generator_tags_photos_as_the_evaluation_does(smoke_run, capsys):
    root, args = smoke_run
    weights = root / "weights" / "flickr.safetensors"
    assert export.main([*args, "--out", str(weights)]) == 0
    cfg = load_experiment(SMOKE, [f"run_dir={root / 'runs'}", f"results_dir={root / 'results'}"])
    context = prepare(cfg, str(root / "data"), str(root / "cache"), run_stages=False)
    data = context.data
    generator, _ = build_networks(cfg, data.features.shape[1])
    generator.load_state_dict(load_checkpoint(context.run_dir("cgan") / "best.pt")["generator"])
    how = next(iter(cgan_samplings(cfg).values()))
    expected, _, _ = tags_and_spread(generator, data, data.test, how, cfg.eval.seed, make_decoder(cfg, data),
                                     cfg.eval.batch_images)
    tagger = load_tagger(weights)
    assert tagger.tags_from_features(data.raw_features[data.test.rows]) == expected
    assert all(len(tags) == cfg.eval.top for tags in expected)
    # From the photos themselves: the backbone and the stored preprocessing recompute the features.
    photos = [root / "data" / "mirflickr25k" / "mirflickr" / f"im{n}.jpg" for n in data.test.numbers]
    assert np.allclose(tagger.image_features(photos), data.raw_features[data.test.rows], atol=1e-4)
    capsys.readouterr()
    assert tag.main(["--weights", str(weights), "--threads", "1", str(photos[0])]) == 0
    from_photo = tagger.tags_from_features(tagger.image_features(photos[:1]))[0]  # (float rounding may reorder ties)
    assert capsys.readouterr().out.strip() == f"{photos[0]}: {', '.join(from_photo)}"
    with pytest.raises(UserFacingError, match="no such image"):
        tagger.tag_image(root / "missing.jpg")
    damaged = bytearray(weights.read_bytes())
    damaged[-3] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    with pytest.raises(UserFacingError, match="digest"):
        load_tagger(weights)
    with pytest.raises(UserFacingError, match="not trained by this experiment"):
        export.main([*args, "--set", "seed=99", "--checkpoint", str(context.run_dir("cgan") / "best.pt"),
                     "--out", str(root / "other.safetensors")])


def test_a_run_cut_short_is_named_in_the_header(smoke_run):
    root, _ = smoke_run
    record = json.loads((root / "results" / "metrics.json").read_text())
    record["config"]["train"]["max_epochs"] = 350
    items = report.training_deviations(record)
    assert len(items) == 1 and "cgan ran 2 of its 350 budgeted epochs" in items[0]
    record["training"]["cgan"]["stopped_early"] = True  # patience ended it: not cut short
    assert report.training_deviations(record) == []


def test_configs_load_and_bad_values_are_rejected():
    cfg = load_experiment(REPO / "experiments" / "flickr" / "flickr_cgan.yaml")
    assert cfg.generator.condition_layers == ["relu 2000"] and cfg.generator.output_layer == "linear 200"
    assert cfg.discriminator.joint_layers == ["maxout 1000x3"] and cfg.objective.noise == "gaussian"
    assert (cfg.eval.samples, cfg.eval.nearest, cfg.eval.top) == (100, 20, 10)
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment(SMOKE, ["eval.sampels=3"])
    with pytest.raises(ConfigError, match="feature_scaling"):
        load_experiment(SMOKE, ["data.feature_scaling=zscore"])


def test_cgan_seeds_train_as_one_stack_and_report_their_spread(smoke_run, tmp_path):
    root, args = smoke_run
    assert train.main([*args, "--model", "cgan", "--seeds", "7", "8"]) == 0  # 7 and 8 stacked
    cfg = load_experiment(SMOKE, [f"run_dir={root / 'runs'}", f"results_dir={root / 'results'}"])
    context = prepare(cfg, str(root / "data"), str(root / "cache"), run_stages=False)
    runs = train.cgan_seed_runs(context, [7, 8])
    assert list(runs) == ["cgan", "cgan-seed7", "cgan-seed8"] and len(set(runs.values())) == 3
    # A stacked member is what a separate run with its seed gives (float rounding: batched GEMMs).
    alone = tmp_path / "alone"
    assert train.main([*args, "--model", "cgan", "--set", "seed=8", "--set", f"run_dir={alone}"]) == 0
    separate = load_checkpoint(next(alone.glob("*/cgan-*")) / "last.pt")["generator"]
    stacked = load_checkpoint(runs["cgan-seed8"] / "last.pt")["generator"]
    for name, value in separate.items():
        assert torch.allclose(stacked[name], value, atol=1e-5), name
    assert evaluate.main([*args, "--seeds", "7", "8"]) == 0
    record = json.loads((root / "results" / "metrics.json").read_text())
    assert {"cgan-seed7/dropout", "cgan-seed8/deterministic"} <= set(record["scores"])
    metrics = (root / "results" / "metrics.md").read_text()
    assert "## Across seeds" in metrics and "1234: " in metrics and "8: " in metrics
    assert "seed 7" not in metrics.split("## Across seeds")[0]  # other seeds only in their section
    with pytest.raises(UserFacingError, match="cgan-seed9"):
        evaluate.main([*args, "--seeds", "9"])


def test_summary_puts_configurations_side_by_side_and_names_their_differences(smoke_run, tmp_path):
    from multimodal import summary

    root, _ = smoke_run
    record = json.loads((root / "results" / "metrics.json").read_text())
    departures = [d for d in record["deviations"] if d.startswith("Settings changed from `experiments/flickr/flickr_cgan.yaml`")]
    assert len(departures) == 1 and "`train.max_epochs` 350 ->" in departures[0]  # the smoke config's own changes
    assert "encoders." not in departures[0] and "results_dir" not in departures[0]
    variant = json.loads(json.dumps(record))
    variant["config"]["name"] = "variant"
    variant["config"]["objective"]["mismatched_weight"] = 0.5
    variant["config"]["results_dir"] = "elsewhere"  # a path: not a difference worth naming
    headline = f"cgan/{record['headline_sampling']}"
    variant["scores"][headline] = {**variant["scores"][headline], "precision@10": 0.987}
    (tmp_path / "variant").mkdir()
    (tmp_path / "variant" / "metrics.json").write_text(json.dumps(variant))
    out = tmp_path / "summary.md"
    assert summary.main([str(root / "results"), str(tmp_path / "variant"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "`objective.mismatched_weight`: 0.0 -> 0.5" in text and "(cut short)" not in text
    assert "results_dir" not in text and "Not comparable" not in text
    assert "This table: `" in text and "at commit `" in text
    rows = [line for line in text.splitlines() if line.startswith("| **variant (headline)** |")]  # the best on test
    assert len(rows) == len(cgan_samplings(load_experiment(SMOKE))) and "| 0.9870 |" in rows[0]
    assert "- **variant** (`" in text and "**Headline** (the best CGAN on test)" in text
    assert sum(line.startswith("| baseline | (a)") for line in text.splitlines()) == 1  # baselines named so

    variant["inputs"]["word_vectors"] = "other"
    (tmp_path / "variant" / "metrics.json").write_text(json.dumps(variant))
    summary.main([str(root / "results"), str(tmp_path / "variant"), "--out", str(out)])
    assert "Not comparable as it stands" in out.read_text() and "word_vectors" in out.read_text()
    with pytest.raises(UserFacingError, match="evaluate that configuration first"):
        summary.main([str(root / "results"), str(tmp_path / "missing"), "--out", str(out)])


def test_min_distinct_words_keeps_collapsed_epochs_from_the_stopping_point(smoke_run, tmp_path):
    from multimodal.settings import run_identity
    from multimodal.validation import selection_score

    assert selection_score({"valid_precision": 0.36, "valid_distinct_words": 125}, 300) == pytest.approx(-0.64)
    assert selection_score({"valid_precision": 0.33, "valid_distinct_words": 389}, 300) == pytest.approx(0.33)
    cfg = load_experiment(SMOKE)
    assert "min_distinct_words" not in run_identity(cfg, "cgan", {})["eval"]  # runs keyed before it keep keys
    assert run_identity(load_experiment(SMOKE, ["eval.min_distinct_words=300"]), "cgan", {})["eval"][
        "min_distinct_words"] == 300
    with pytest.raises(ConfigError, match="min_distinct_words"):
        load_experiment(SMOKE, ["eval.min_distinct_words=-1"])
    root, args = smoke_run
    runs = tmp_path / "runs"
    assert train.main([*args, "--model", "cgan", "--set", f"run_dir={runs}",
                       "--set", "eval.min_distinct_words=100000"]) == 0  # no epoch can be eligible
    history = json.loads(next(runs.glob("*/cgan-*/history.json")).read_text())
    for record in history:
        assert record["score"] == pytest.approx(record["valid_precision"] - 1.0)
        assert record["valid_selection_score"] == record["score"]
    results = tmp_path / "results"
    assert evaluate.main([*args, "--set", f"run_dir={runs}", "--set", "eval.min_distinct_words=100000",
                          "--set", f"results_dir={results}", "--write-results"]) == 0
    assert "among those whose validation tags use at least 100,000 distinct words" in (
        results / "metrics.md").read_text()  # the header names the rule


def test_a_cgan_with_the_auxiliary_concept_head_trains_resumes_and_evaluates(smoke_run, tmp_path):
    """objective.auxiliary_weight: D's head names the pair's image's concepts (the tiny set has
    three); its losses are logged, its weights saved, and the evaluation loads D with it."""
    root, args = smoke_run
    runs, results = tmp_path / "runs", tmp_path / "results"
    extra = ["--set", f"run_dir={runs}", "--set", "objective.auxiliary_weight=1", "--set", "train.max_epochs=2"]
    assert train.main([*args, *extra, "--model", "cgan"]) == 0
    run = next(runs.glob("*/cgan-*"))
    history = json.loads((run / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    for record in history:
        assert 0 < record["auxiliary_real"] < 1 and 0 < record["auxiliary_fake"] < 1  # below log 2 + a little
    head = load_checkpoint(run / "last.pt")["discriminator"]["auxiliary.weight"]
    assert head.shape[0] == len(CONCEPTS)
    assert load_experiment(SMOKE, ["objective.auxiliary_weight=1"]).objective.identity()["auxiliary_weight"] == 1
    assert evaluate.main([*args, *extra, "--set", f"results_dir={results}", "--write-results"]) == 0
    assert "objective.auxiliary_weight" in (results / "metrics.md").read_text()  # named as a departure
