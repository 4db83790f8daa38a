"""The committed experiment configs: each loads into its typed object (no unknown key, no impossible
value), and every number in them names its source in a comment, as the developers' guide asks."""

import re
from pathlib import Path

import pytest

from multimodal.settings import TaggingSettings
from multimodal.settings import load_experiment as load_flickr
from unimodal.settings import MnistEvalSettings
from unimodal.settings import load_experiment as load_mnist

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
MNIST = sorted(EXPERIMENTS.glob("mnist/mnist_*.yaml"))
FLICKR = sorted(EXPERIMENTS.glob("flickr/flickr_cgan*.yaml"))
# A YAML line that sets a number: 'key: 0.1', 'key: [240, 5]', '- 1200' (not a quoted string).
NUMBER_LINE = re.compile(r"^\s*(-\s+|[\w.]+:\s+\[?)[-+]?(\d|\.\d)")
# The sources a comment names (the paper, the GAN code, a sweep or issue of ours, or 'ours').
SOURCE = re.compile(r"paper|gan code|sweep|issue|ours|smoke", re.IGNORECASE)


def test_the_training_configs_are_found():
    assert {"mnist_cgan.yaml", "mnist_gan.yaml", "mnist_cgan_symdecay.yaml"} <= {p.name for p in MNIST}
    assert "flickr_cgan.yaml" in {p.name for p in FLICKR}


@pytest.mark.parametrize("path", MNIST, ids=lambda p: p.name)
def test_mnist_config_loads(path):
    cfg = load_mnist(path)
    assert cfg.name and cfg.train.max_epochs > 0


@pytest.mark.parametrize("path", FLICKR, ids=lambda p: p.name)
def test_flickr_config_loads(path):
    cfg = load_flickr(path)
    assert cfg.name and cfg.train.max_epochs > 0


@pytest.mark.parametrize("path", MNIST + FLICKR, ids=lambda p: p.name)
def test_every_number_in_a_config_names_its_source(path):
    bare = [f"{path.name}:{number}: {line.strip()}" for number, line in enumerate(path.read_text().splitlines(), 1)
            if NUMBER_LINE.match(line.split("#")[0]) and not SOURCE.search(line.partition("#")[2])]
    assert not bare, "numbers whose comment names no source (paper, GAN code, sweep, issue, ours):\n" + "\n".join(bare)


def test_the_number_check_sees_numbers():
    assert NUMBER_LINE.match("  lr_decay: 1.000004")
    assert NUMBER_LINE.match("  - 1200")
    assert NUMBER_LINE.match("  pieces: [240, 5]")
    assert not NUMBER_LINE.match("  noise: symmetric_uniform")


def test_a_config_that_leaves_out_the_sampling_mode_samples_as_the_protocol_does():
    """parzen_ll.py samples G without dropout: the schema's default, so a new config cannot silently
    pick the stopping point and headline with the other mode."""
    assert MnistEvalSettings().sample_with_dropout is False
    assert TaggingSettings().sample_with_dropout is False
