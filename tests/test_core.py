"""The shared core: maxout, schedules, the momentum rule, configs, dropout masks, networks."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from cgan.config import apply_overrides, from_dict, load_config
from cgan.errors import ConfigError
from cgan.networks import DropoutMasks, LayerSpec, Maxout, TowerNet
from cgan.objective import ObjectiveSettings
from cgan.optim import MomentumSGD
from cgan.sampling import SAMPLING_LABELS, SAMPLING_MODES, sampling_modes, sampling_state
from cgan.schedules import ExponentialDecay, MomentumAdjustor
from cgan.training import TrainSettings, identity_conflicts


def test_maxout_takes_max_over_adjacent_pieces():
    torch.manual_seed(0)
    layer = Maxout(6, units=3, pieces=4)
    x = torch.randn(5, 6)
    z = x @ layer.linear.weight.T + layer.linear.bias  # (5, 12)
    expected = torch.stack([z[:, u * 4:(u + 1) * 4].max(dim=1).values for u in range(3)], dim=1)
    torch.testing.assert_close(layer(x), expected)


def test_maxout_gradient_flows_only_to_the_winning_piece():
    layer = Maxout(2, units=1, pieces=2)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[3.0, 1.0]], requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0]]


def test_layer_spec_parsing_and_errors():
    assert LayerSpec.parse("maxout 240x5") == LayerSpec("maxout", 240, 5)
    assert LayerSpec.parse("relu 1200") == LayerSpec("relu", 1200)
    for bad in ("relu", "maxout 240", "tanh 10", "relu 0"):
        with pytest.raises(ConfigError):
            LayerSpec.parse(bad)


def test_learning_rate_after_t_updates_matches_pylearn2_exponential_decay():
    decay = ExponentialDecay(0.1, 1.00004, 1e-6)
    assert decay(0) == pytest.approx(0.1)
    assert decay(1) == pytest.approx(0.1 / 1.00004)
    assert decay(50_000) == pytest.approx(0.1 / 1.00004 ** 50_000, rel=1e-9)
    to_floor = decay.updates_to_floor()
    assert to_floor == math.ceil(math.log(1e5) / math.log(1.00004)) == 287_829
    assert decay(to_floor - 1) > 1e-6 and decay(to_floor) == 1e-6 and decay(10**9) == 1e-6
    # about 576 epochs of 500 updates, as SPEC.md says
    assert round(to_floor / 500) == 576


def test_momentum_rises_linearly_from_epoch_1_to_250():
    momentum = MomentumAdjustor(0.5, 0.7, start=1, saturate=250)
    assert momentum(1) == pytest.approx(0.5)
    assert momentum(125) == pytest.approx(0.5 + 0.2 * 124 / 249)
    assert momentum(250) == pytest.approx(0.7)
    assert momentum(600) == pytest.approx(0.7)


def test_momentum_sgd_follows_pylearn2_rule_with_changing_learning_rate():
    w = torch.tensor([1.0, -2.0])
    sgd = MomentumSGD([w])
    v = np.zeros(2)
    w_ref = np.array([1.0, -2.0])
    for lr, m, g in [(0.1, 0.5, [1.0, 2.0]), (0.05, 0.6, [-1.0, 0.5]), (0.01, 0.7, [3.0, 1.0])]:
        sgd.step([torch.tensor(g)], lr, m)
        v = m * v - lr * np.array(g)
        w_ref = w_ref + v
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-6)


@dataclass
class _Inner:
    rate: float
    layers: list[str]

    def check(self):
        if self.rate <= 0:
            raise ConfigError("inner.rate must be > 0")


@dataclass
class _Outer:
    name: str
    inner: _Inner
    count: int = 3
    maybe: int | None = None


def test_config_rejects_unknown_keys_wrong_types_and_impossible_values():
    good = {"name": "x", "inner": {"rate": 1, "layers": ["relu 2"]}}
    cfg = from_dict(_Outer, good)
    assert cfg.inner.rate == 1.0 and isinstance(cfg.inner.rate, float) and cfg.count == 3
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        from_dict(_Outer, {**good, "colour": "red"})
    with pytest.raises(ConfigError, match="count: expected a whole number"):
        from_dict(_Outer, {**good, "count": "three"})
    with pytest.raises(ConfigError, match="inner.rate must be > 0"):
        from_dict(_Outer, {"name": "x", "inner": {"rate": -1, "layers": []}})
    with pytest.raises(ConfigError, match="missing required"):
        from_dict(_Outer, {"name": "x"})


def test_config_overrides_and_base_files(tmp_path):
    (tmp_path / "base.yaml").write_text("name: a\ninner: {rate: 1.0, layers: []}\ncount: 4\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\ninner: {rate: 2.0}\n")
    cfg = load_config(_Outer, tmp_path / "child.yaml", ["count=7", "maybe=null"])
    assert (cfg.name, cfg.inner.rate, cfg.inner.layers, cfg.count, cfg.maybe) == ("a", 2.0, [], 7, None)
    with pytest.raises(ConfigError, match="child.yaml"):
        load_config(_Outer, tmp_path / "child.yaml", ["inner.nope=1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["novalue"])


def test_train_settings_reject_impossible_schedules():
    with pytest.raises(ConfigError, match="lr_decay"):
        from_dict(TrainSettings, {"lr_decay": 0.9})
    with pytest.raises(ConfigError, match="noise"):
        from_dict(ObjectiveSettings, {"noise": "pink"})
    with pytest.raises(ConfigError, match="unknown key.*noise"):  # the objective's settings live with it
        from_dict(TrainSettings, {"noise": "unit_uniform"})


def test_dropout_masks_have_the_right_rate_scale_and_resume_exactly():
    masks = DropoutMasks(0)
    for keep in (0.5, 0.8):
        m = masks.mask((200, 500), keep)
        values = np.unique(m.numpy())
        assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / keep)
        assert (m > 0).float().mean().item() == pytest.approx(keep, abs=0.01)
    state = masks.state()
    first = masks.mask((3, 7), 0.5)
    masks.load_state(state)
    assert torch.equal(masks.mask((3, 7), 0.5), first)


def test_tower_net_shapes_and_dropout_only_in_training():
    net = TowerNet(100, 10, ["relu 20"], ["relu 30"], ["maxout 8x3"], "sigmoid 5",
                   input_keep=0.8, hidden_keep=0.5)
    net.dropout = DropoutMasks(1)
    z, y = torch.rand(4, 100), torch.eye(10)[:4]
    assert net(z, y).shape == (4, 5)
    net.eval()
    torch.testing.assert_close(net(z, y), net(z, y))
    net.train()
    assert not torch.equal(net(z, y), net(z, y))
    assert ((net.sample(z, y) > 0) & (net.sample(z, y) < 1)).all()


def test_identity_conflicts_ignore_new_keys_but_name_changed_ones():
    saved = {"seed": 1, "train": {"lr": 0.1}}
    assert identity_conflicts(saved, {"seed": 1, "train": {"lr": 0.1, "new": 3}}) == []
    assert identity_conflicts(saved, {"seed": 2, "train": {"lr": 0.2}}) == ["seed", "train.lr"]


def test_sampling_state_sets_the_mode_and_restores_the_network_even_after_an_error():
    net = TowerNet(4, 0, ["relu 8"], [], ["relu 8"], "linear 3", hidden_keep=0.5)
    training_masks = DropoutMasks(1)
    net.dropout = training_masks
    net.train()
    with sampling_state(net, "deterministic", seed=5):
        assert not net.training and net.dropout is None
    assert net.training and net.dropout is training_masks
    z = torch.ones(6, 4)
    with pytest.raises(RuntimeError, match="boom"), sampling_state(net, "dropout", seed=5):
        assert net.training and net.dropout is not training_masks
        first = net.sample(z)
        raise RuntimeError("boom")
    assert net.training and net.dropout is training_masks
    net.eval()
    with sampling_state(net, "dropout", seed=5):
        assert torch.equal(net.sample(z), first)  # masks from their own source, seeded
    assert not net.training and net.dropout is training_masks
    with pytest.raises(ValueError, match="unknown sampling mode"), sampling_state(net, "noisy", seed=5):
        pass


def test_sampling_modes_put_the_configured_mode_first_and_skip_dropout_when_g_has_none():
    from cgan.run_settings import NetworkSettings

    g = NetworkSettings(main_layers=["relu 4"], joint_layers=[], output_layer="linear 2", init_range=0.1,
                        hidden_keep=0.5)
    assert sampling_modes(g, dropout_first=True) == ["dropout", "deterministic"]
    assert sampling_modes(g, dropout_first=False) == ["deterministic", "dropout"]
    g.hidden_keep = 1.0
    assert sampling_modes(g, dropout_first=True) == ["deterministic"]
    assert set(SAMPLING_LABELS) == set(SAMPLING_MODES)


def test_unscaled_dropout_keeps_units_as_they_are():
    masks = DropoutMasks(3)
    x = torch.ones(1000, 8)
    scaled, unscaled = masks.apply(x, 0.5), DropoutMasks(3).apply(x, 0.5, scaled=False)
    assert set(scaled.unique().tolist()) == {0.0, 2.0} and set(unscaled.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(scaled, 2 * unscaled)  # the same units dropped
    net = TowerNet(4, 0, ["relu 8"], [], [], "linear 3", hidden_keep=0.5, dropout_scaled=False)
    net.dropout = DropoutMasks(0)
    net.train()
    assert net(torch.ones(2, 4)).shape == (2, 3)


def test_result_paths_are_recorded_without_this_machines_folders(tmp_path, monkeypatch):
    from cgan.runs.paths import REPO_ROOT, portable, resolve

    monkeypatch.setenv("CGAN_DATA_ROOT", str(tmp_path / "data"))
    inside = REPO_ROOT / "runs" / "x" / "best.pt"
    assert portable(inside) == "runs/x/best.pt" and resolve("runs/x/best.pt") == inside
    image = tmp_path / "data" / "mirflickr25k" / "mirflickr" / "im1.jpg"
    assert portable(image) == "$CGAN_DATA_ROOT/mirflickr25k/mirflickr/im1.jpg"
    assert resolve(portable(image)) == image
    assert portable(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runs = tmp_path / "home" / "cgan-runs" / "x"
    assert portable(runs) == "~/cgan-runs/x" and resolve("~/cgan-runs/x") == runs


def test_masks_drawn_by_a_torch_generator_resume_exactly_and_follow_their_checkpoint():
    masks = DropoutMasks(5, "cpu", on_device=True)  # the GPU path, exercised on the CPU
    first = masks.mask((400, 50), 0.5)
    assert set(first.unique().tolist()) == {0.0, 2.0} and abs((first > 0).float().mean().item() - 0.5) < 0.02
    saved = masks.state()
    expected = masks.mask((3, 7), 0.8, scaled=False)
    resumed = DropoutMasks(99, "cpu", on_device=True)
    resumed.load_state(saved)
    assert torch.equal(resumed.mask((3, 7), 0.8, scaled=False), expected)
    numpy_masks = DropoutMasks(5)  # a CPU run's checkpoint resumed where masks would be drawn on the device
    numpy_state = numpy_masks.state()
    expected = numpy_masks.mask((4, 4), 0.5)
    switched = DropoutMasks(5, "cpu", on_device=True)
    switched.load_state(numpy_state)
    assert switched.generator is None and torch.equal(switched.mask((4, 4), 0.5), expected)


def test_committed_results_hold_no_machine_paths():
    """Result files record paths relative to the repository, the data root or a run folder."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    machine_path = re.compile(r"""(^|[\s"'`(=])/(work|root|home|tmp|Users|mnt)/""")
    offenders = [str(path.relative_to(root)) for path in (root / "results").rglob("*")
                 if path.suffix in (".json", ".md", ".csv") and machine_path.search(path.read_text())]
    assert not offenders, offenders


def test_the_recorded_command_is_the_module_form_and_quotes_what_needs_it(monkeypatch):
    from cgan.runs.paths import REPO_ROOT
    from cgan.runs.provenance import command_line

    monkeypatch.setattr("sys.argv", [str(REPO_ROOT / "studies" / "flickr_diagnostics.py"),
                                     "--run", "a label=runs/x", "--set", "seed=3"])
    assert command_line() == "python -m studies.flickr_diagnostics --run 'a label=runs/x' --set seed=3"


def test_a_tree_copied_without_git_records_the_commit_it_was_told(tmp_path, monkeypatch):
    """A GPU machine gets the working tree without .git: results there record $CGAN_GIT_COMMIT."""
    import cgan.runs.provenance

    assert len(cgan.runs.provenance.git_commit().split("+")[0]) == 40  # this checkout: git answers
    monkeypatch.setattr(cgan.runs.provenance, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("CGAN_GIT_COMMIT", raising=False)
    assert cgan.runs.provenance.git_commit() == "unknown"
    monkeypatch.setenv("CGAN_GIT_COMMIT", "0123abc")
    assert cgan.runs.provenance.git_commit() == "0123abc"


def test_truncated_noise_draws_outlying_entries_again_and_keeps_the_rest():
    from cgan.noise import truncate

    rng = torch.Generator().manual_seed(0)
    z = torch.tensor([[0.1, -3.0, 0.5], [2.5, -0.2, 0.0]])
    cut = truncate(z, 1.0, rng)
    assert cut.abs().max() <= 1.0
    inside = z.abs() <= 1.0
    assert torch.equal(cut[inside], z[inside]) and not torch.equal(cut[~inside], z[~inside])
    assert torch.equal(truncate(z, 1.0, torch.Generator().manual_seed(0)), cut)  # deterministic


def test_recorded_commands_hold_no_folder_of_this_computer():
    from pathlib import Path

    from cgan.runs.paths import REPO_ROOT
    from cgan.runs.provenance import portable_command

    home = Path.home()
    command = f"python -m unimodal.train --config {REPO_ROOT}/experiments/mnist/mnist_cgan.yaml --set run_dir={home}/runs"
    assert portable_command(command) == ("python -m unimodal.train --config experiments/mnist/mnist_cgan.yaml "
                                         "--set run_dir=~/runs")
