"""The Makefile is the user's way in: `make help` must list every target it declares, and the
variables the README documents must reach the command they configure."""
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make(*args: str) -> str:
    return subprocess.run(["make", "-s", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout


def declared_targets() -> set[str]:
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    return set(phony.group(1).split()) - {"help"}


def test_make_help_lists_every_declared_target():
    listed = {line.split()[1] for line in make("help").splitlines() if line.startswith("make ")}
    assert declared_targets() <= listed, declared_targets() - listed


def test_every_declared_target_has_a_rule():
    rules = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
    assert declared_targets() <= rules, declared_targets() - rules


def test_mnist_cgan_takes_another_config_and_stacked_seeds():
    assert "--config experiments/mnist/mnist_cgan.yaml" in make("-n", "mnist-cgan")
    command = make("-n", "mnist-cgan", "MNIST_CONFIG=experiments/mnist/mnist_cgan_diverse16.yaml", "SEEDS=1 2")
    assert "--config experiments/mnist/mnist_cgan_diverse16.yaml --seeds 1 2" in command


def test_mnist_headline_trains_the_headline_config_with_three_seeds_then_the_tables():
    command = make("-n", "mnist-headline")
    assert "--config experiments/mnist/mnist_cgan_diverse_shared.yaml --seeds 1234 1 2" in command
    assert command.index("unimodal.train") < command.index("unimodal.report")
