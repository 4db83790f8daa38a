"""studies.noise_use: the diversity term's ratio under independent masks, one shared mask, no dropout."""

import json
from pathlib import Path

import pytest
import torch

from cgan.run_settings import NetworkSettings
from studies import noise_use

G = NetworkSettings(main_layers=["relu 32"], condition_layers=["relu 16"], joint_layers=["relu 32"],
                    output_layer="sigmoid 12", init_range=0.5, hidden_keep=0.5)
WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


def test_a_generator_that_ignores_z_spreads_its_draws_only_through_dropout():
    torch.manual_seed(0)
    net = G.build(4, 10)
    with torch.no_grad():
        net.main_tower[0][0].weight.zero_()  # G ignores z
    ratios = noise_use.spread_ratios(net, "symmetric_uniform", 4, conditional=True, rows_per_class=5)
    assert ratios["independent masks"] > 0.01
    assert ratios["one shared mask"] == 0.0 and ratios["no dropout"] == 0.0


def test_without_dropout_in_g_the_three_regimes_agree():
    torch.manual_seed(0)
    net = NetworkSettings(**{**G.__dict__, "hidden_keep": 1.0}).build(4, 10)
    ratios = noise_use.spread_ratios(net, "symmetric_uniform", 4, conditional=True, rows_per_class=5)
    assert ratios["no dropout"] > 0.01
    assert ratios["independent masks"] == pytest.approx(ratios["no dropout"], rel=1e-5)
    assert ratios["one shared mask"] == pytest.approx(ratios["no dropout"], rel=1e-5)


def test_the_paper_cgan_shipped_spreads_its_digits_through_dropout_not_z(tmp_path, capsys):
    """The shipped faithful-as-written generator (weights/mnist_cgan.safetensors) ignores z: two
    draws under one mask are over 10x closer than under independent masks."""
    out = tmp_path / "noise_use"
    assert noise_use.main(["--generator", f"paper={WEIGHTS / 'mnist_cgan.safetensors'}", "--out", str(out)]) == 0
    row = json.loads(out.with_suffix(".json").read_text())["rows"][0]
    assert row["config"] == "mnist_cgan" and row["epoch"] is not None
    assert row["ratios"]["one shared mask"] * 10 < row["ratios"]["independent masks"]
    assert "| paper | mnist_cgan |" in out.with_suffix(".md").read_text()


def test_generators_need_labels_of_their_own():
    with pytest.raises(SystemExit):
        noise_use.main(["--generator", "no-label", "--out", "x"])
    with pytest.raises(Exception, match="share a label"):
        noise_use.main(["--generator", f"a={WEIGHTS / 'mnist_cgan.safetensors'}", "--generator",
                        f"a={WEIGHTS / 'mnist_gan.safetensors'}", "--out", "x"])
