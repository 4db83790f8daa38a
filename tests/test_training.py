"""The adversarial training loop: updates, best checkpoint, resume after interruption."""

import numpy as np
import pytest
import torch

import cgan.runs.checkpoint as checkpoint
from cgan.adversarial import AdversarialTrainer
from cgan.errors import UserFacingError
from cgan.extra_terms import mismatched_rows
from cgan.objective import ObjectiveSettings
from cgan.run_settings import NetworkSettings
from cgan.training import ShuffledBatches, Trainer, TrainSettings

G = NetworkSettings(main_layers=["relu 16"], condition_layers=["relu 8"], joint_layers=["relu 16"],
                    output_layer="sigmoid 12", init_range=0.05, hidden_keep=0.5)
D = NetworkSettings(main_layers=["maxout 8x3"], condition_layers=["maxout 4x2"],
                    joint_layers=["maxout 8x2"], output_layer="sigmoid 1", init_range=0.005,
                    input_keep=0.8, hidden_keep=0.5)


def make_trainer(run_dir, max_epochs, scores=None):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = torch.from_numpy(rng.random((64, 12), dtype=np.float32))
    cond = torch.eye(3)[torch.from_numpy(rng.integers(0, 3, 64))]
    batches = ShuffledBatches(64, lambda i: (data[i], cond[i]), batch_size=10, seed=5)
    settings = TrainSettings(max_epochs=max_epochs, lr_decay=1.001)
    score_list = list(scores or [])
    evaluate = (lambda epoch: {"score": score_list[epoch - 1]}) if scores else None
    return AdversarialTrainer(G.build(4, 3), D.build(12, 3), batches, settings, ObjectiveSettings(noise_dim=4), run_dir,
                              seed=7,
                              evaluate=evaluate, identity={"seed": 7}, progress=False)


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.optimizer.params])


def test_one_epoch_updates_both_networks_and_counts_updates(tmp_path):
    trainer = make_trainer(tmp_path, 1)
    g0 = [p.clone() for p in trainer.g_params]
    d0 = [p.clone() for p in trainer.d_params]
    trainer.fit()
    assert trainer.updates == 7  # ceil(64 / 10)
    assert any(not torch.equal(a, b) for a, b in zip(g0, trainer.g_params))
    assert any(not torch.equal(a, b) for a, b in zip(d0, trainer.d_params))
    record = trainer.history[0]
    assert record["learning_rate"] == pytest.approx(0.1) and record["momentum"] == pytest.approx(0.5)
    assert 0 < record["d_real"] < 1 and np.isfinite(record["d_loss"])


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    straight = make_trainer(tmp_path / "a", 4)
    straight.fit()
    first = make_trainer(tmp_path / "b", 2)
    first.fit()
    resumed = make_trainer(tmp_path / "b", 4)
    assert resumed.resume()
    resumed.fit()
    assert resumed.updates == straight.updates
    torch.testing.assert_close(weights(resumed), weights(straight), rtol=0, atol=0)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]


def test_best_checkpoint_follows_the_highest_score_and_patience_stops(tmp_path, capsys):
    trainer = make_trainer(tmp_path, 10, scores=[1.0, 3.0, 2.0, 2.5, 0.0, 9.0])
    trainer.settings.patience = 3
    trainer.fit()
    assert "stopped at epoch 5: no better validation score for 3 epochs (best 3 at epoch 2)" in capsys.readouterr().out
    assert trainer.best == {"epoch": 2, "score": 3.0}
    assert trainer.epoch == 5 and trainer.stopped_early
    assert checkpoint.load_checkpoint(tmp_path / "best.pt")["epoch"] == 2


def test_a_killed_checkpoint_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, 1)
    trainer.fit()
    before = (tmp_path / "last.pt").read_bytes()

    def crash(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    assert (tmp_path / "last.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_resume_refuses_a_run_of_other_settings_and_unreadable_files(tmp_path):
    make_trainer(tmp_path, 1).fit()
    other = make_trainer(tmp_path, 2)
    other.identity = {"seed": 8}
    with pytest.raises(UserFacingError, match="seed"):
        other.resume()
    (tmp_path / "last.pt").write_bytes(b"garbage")
    with pytest.raises(UserFacingError, match="cannot be read"):
        make_trainer(tmp_path, 2).resume()


class LeastSquaresTrainer(Trainer):
    """A non-adversarial update for the base trainer: fit one network's output to the data."""

    STATS = ("loss",)

    def __init__(self, net, *args, **kwargs):
        super().__init__({"net": net}, *args, **kwargs)
        self.net = net

    def update(self, data, condition, lr, momentum, labels=None):
        loss = (self.net.sample(torch.zeros(len(data), 4), condition) - data).pow(2).sum(dim=1).mean()
        grads = torch.autograd.grad(loss, list(self.net.parameters()))
        self.optimizer.step(list(grads), lr, momentum)
        return loss.detach().reshape(1)


def least_squares_trainer(run_dir, max_epochs):
    torch.manual_seed(0)
    cond = torch.eye(3)[torch.arange(60) % 3]
    data = cond @ torch.tensor([[0.9] * 12, [0.1] * 12, [0.5] * 12])
    batches = ShuffledBatches(60, lambda i: (data[i], cond[i]), batch_size=10, seed=5)
    net = NetworkSettings(main_layers=["relu 8"], condition_layers=["relu 8"], joint_layers=[],
                          output_layer="linear 12", init_range=0.3).build(4, 3)
    scores = iter(range(100))
    return LeastSquaresTrainer(net, batches, TrainSettings(max_epochs=max_epochs, learning_rate=0.05),
                               run_dir, seed=3, evaluate=lambda epoch: {"score": -next(scores)},
                               identity={"kind": "least squares"}, config={"any": "config"}, progress=False)


def test_base_trainer_runs_a_non_adversarial_update_with_checkpoints_and_resume(tmp_path, capsys):
    straight = least_squares_trainer(tmp_path / "a", 6)
    straight.fit()
    losses = [r["loss"] for r in straight.history]
    assert losses[-1] < 0.5 * losses[0] and straight.updates == 36
    assert set(straight.history[0]) >= {"loss", "learning_rate", "momentum", "score"}
    assert "d_loss" not in straight.history[0]  # only the stats the update returns
    assert "loss " in capsys.readouterr().out  # the epoch line names them
    state = checkpoint.load_checkpoint(tmp_path / "a" / "last.pt")
    assert set(state) >= {"net", "optimizer", "masks", "config"} and "discriminator" not in state
    assert state["config"] == {"any": "config"}
    assert checkpoint.load_checkpoint(tmp_path / "a" / "best.pt")["epoch"] == 1  # scores fall each epoch
    least_squares_trainer(tmp_path / "b", 3).fit()
    resumed = least_squares_trainer(tmp_path / "b", 6)
    resumed.fit()
    torch.testing.assert_close(torch.cat([p.flatten() for p in resumed.optimizer.params]),
                               torch.cat([p.flatten() for p in straight.optimizer.params]), rtol=0, atol=0)


def test_mismatched_rows_never_pick_the_own_condition_even_when_it_repeats():
    a, b, c = torch.eye(3)
    condition = torch.stack([a, a, b, a, c, c])
    other, has = mismatched_rows(condition)
    assert has.tolist() == [1.0] * 6
    assert all(not torch.equal(condition[i], condition[j]) for i, j in enumerate(other.tolist()))
    _, none = mismatched_rows(torch.stack([a, a, a]))
    assert none.tolist() == [0.0, 0.0, 0.0]  # one image in the whole batch: no mismatched pair


def test_a_matching_aware_discriminator_sees_real_data_with_other_conditions_as_fake(tmp_path):
    trainer = make_trainer(tmp_path, 1)
    trainer.objective.mismatched_weight = 0.5
    trainer = AdversarialTrainer(G.build(4, 3), D.build(12, 3), trainer.batches, trainer.settings, trainer.objective,
                                 tmp_path, seed=7, progress=False)
    seen = []
    judge = trainer.judge
    trainer.judge = lambda data, condition, rows: seen.append((data, condition, rows)) or judge(data, condition, rows)
    trainer.fit()
    assert "d_mismatched" in trainer.history[0] and 0 < trainer.history[0]["d_mismatched"] < 1
    for data, condition, rows in seen:
        n = len(data) // 3
        assert torch.equal(data[2 * n:], data[:n])  # real data ...
        own, wrong = condition[rows[:n]], condition[rows[2 * n:]]
        differs = ~(wrong == own).all(dim=1)
        assert differs.all() or not (own != own[0]).any()  # ... with another row's condition, never its own


@pytest.mark.parametrize("condition_layers", [["maxout 4x2"], ["maxout 4x2", "relu 5"]])
def test_d_judges_shared_conditions_as_if_each_row_had_its_own_copy(tmp_path, condition_layers):
    """The condition tower runs once per minibatch row (when no dropout falls in it): same
    logits, same dropout masks drawn, as running it on every judged row's own copy."""
    settings = NetworkSettings(**{**D.__dict__, "condition_layers": condition_layers})
    trainer = make_trainer(tmp_path, 1)
    trainer.discriminator = settings.build(12, 3).train()
    trainer.discriminator.dropout = trainer.masks
    data, condition = torch.rand(30, 12), torch.eye(3)[torch.tensor([0, 1, 2, 1, 0] * 2)]
    rows = torch.cat([torch.arange(10), torch.arange(10), torch.arange(10).roll(1)])
    state = trainer.masks.state()
    shared = trainer.judge(data, condition, rows)
    after_shared = trainer.masks.state()
    trainer.masks.load_state(state)
    own_copies = trainer.discriminator(data, condition[rows]).squeeze(-1)
    assert trainer.masks.state() == after_shared
    assert torch.allclose(shared, own_copies, atol=1e-6)
    assert trainer.discriminator.condition_dropout_free == (len(condition_layers) == 1)


def test_with_k_discriminator_steps_the_generator_moves_on_every_kth_minibatch_only(tmp_path):
    trainer = make_trainer(tmp_path, 1)
    trainer.objective.d_steps = 2
    data, condition = next(trainer.batches.epoch(1))
    snapshots = []
    for _ in range(4):
        snapshots.append([torch.cat([p.detach().flatten().clone() for p in params])
                          for params in (trainer.d_params, trainer.g_params)])
        trainer.step(data, condition, 0.5)
    snapshots.append([torch.cat([p.detach().flatten() for p in params]) for params in (trainer.d_params, trainer.g_params)])
    d_moved = [not torch.equal(a[0], b[0]) for a, b in zip(snapshots, snapshots[1:])]
    g_moved = [not torch.equal(a[1], b[1]) for a, b in zip(snapshots, snapshots[1:])]
    assert d_moved == [True, True, True, True] and g_moved == [False, True, False, True]


def test_the_diversity_term_rewards_a_generator_for_using_its_noise():
    from cgan.extra_terms import diversity_ratio
    from cgan.objective import losses as adversarial_losses

    z, z2 = torch.zeros(3, 4), torch.ones(3, 4)  # mean |z - z2| = 1 in every row
    fake, fake2 = torch.zeros(3, 2), torch.tensor([[0.5, 0.5], [2.0, 2.0], [0.0, 0.0]])
    assert diversity_ratio(fake, fake2, z, z2, cap=1.0).item() == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert diversity_ratio(fake, fake2, z, z2, cap=10.0).item() == pytest.approx((0.5 + 2.0 + 0.0) / 3)

    data, condition = torch.rand(5, 2), torch.eye(5)
    judge = lambda x, c, rows: x.sum(-1)  # noqa: E731 (any fixed D)
    ignores_z = lambda z, c: c[:, :2] * 3  # noqa: E731
    uses_z = lambda z, c: c[:, :2] + z[:, :2]  # noqa: E731
    off = ObjectiveSettings(noise_dim=4)
    on = ObjectiveSettings(noise_dim=4, diversity_weight=2.0, diversity_cap=10.0)
    assert on.noise_rows(5) == 10 and off.noise_rows(5) == 5
    noise = torch.randn(10, 4)
    _, g_off, stats_off = adversarial_losses(off, uses_z, judge, data, condition, noise[:5])
    _, g_on, stats_on = adversarial_losses(on, uses_z, judge, data, condition, noise)
    expected = diversity_ratio(uses_z(noise[:5], condition), uses_z(noise[5:], condition), noise[:5, :], noise[5:],
                               10.0)
    assert len(stats_off) == 4 and len(stats_on) == 5 and stats_on[4].item() == pytest.approx(expected.item())
    assert g_on.item() == pytest.approx(g_off.item() - 2.0 * expected.item())  # the same fake rows, minus the term
    _, _, stats_constant = adversarial_losses(on, ignores_z, judge, data, condition, noise)
    assert stats_constant[4].item() == 0.0


def test_a_diversity_term_trains_and_records_its_ratio(tmp_path):
    trainer = make_trainer(tmp_path, 1)
    settings = ObjectiveSettings(noise_dim=4, diversity_weight=0.5)
    trainer = AdversarialTrainer(G.build(4, 3), D.build(12, 3), trainer.batches, trainer.settings, settings, tmp_path,
                                 seed=7, progress=False)
    trainer.fit()
    assert 0 < trainer.history[0]["diversity"] <= settings.diversity_cap
    assert "diversity_weight" in settings.identity() and "diversity_weight" not in ObjectiveSettings().identity()


def test_twin_masks_give_both_halves_one_mask_per_row():
    from cgan.networks import DropoutMasks, TwinMasks
    from cgan.stacked import StackedMasks

    for source, shape in ((DropoutMasks(3), (8, 50)), (StackedMasks([DropoutMasks(3), DropoutMasks(4)]), (2, 8, 50))):
        masked = TwinMasks(source).apply(torch.ones(shape), 0.5)
        first, second = masked[..., :4, :], masked[..., 4:, :]
        assert torch.equal(first, second) and set(first.unique().tolist()) == {0.0, 2.0}
        assert not torch.equal(first[..., 0, :], first[..., 1, :])  # rows still get their own masks
    assert torch.equal(TwinMasks(DropoutMasks(3)).apply(torch.ones(4, 5), 1.0), torch.ones(4, 5))


def test_with_shared_masks_the_diversity_term_sees_only_what_z_changes(tmp_path):
    """A generator that ignores z still spreads its two draws through dropout when each draw has
    its own masks (the ratio DSGAN sees is then > 0); with shared masks the ratio is exactly 0."""
    from cgan.objective import losses as adversarial_losses

    trainer = make_trainer(tmp_path, 1)
    with torch.no_grad():
        trainer.generator.main_tower[0][0].weight.zero_()  # G ignores z
    data, condition = next(trainer.batches.epoch(1))
    z = torch.rand(20, 4)
    ratios = {}
    for masks in ("independent", "shared"):
        settings = ObjectiveSettings(noise_dim=4, diversity_weight=1.0, diversity_masks=masks)
        _, _, stats = adversarial_losses(settings, trainer.generate, trainer.judge, data, condition, z)
        ratios[masks] = stats[-1].item()
    assert ratios["independent"] > 1e-6 and ratios["shared"] == 0.0
    shared = ObjectiveSettings(diversity_weight=1.0, diversity_masks="shared")
    assert shared.identity()["diversity_masks"] == "shared"
    assert "diversity_masks" not in ObjectiveSettings(diversity_weight=1.0).identity()
    with pytest.raises(Exception, match="diversity_masks"):
        ObjectiveSettings(diversity_masks="both").check()


def test_the_reconstruction_term_pulls_the_generator_towards_its_rows_direction():
    from cgan.objective import losses as adversarial_losses

    data, condition = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]), torch.eye(3)
    judge = lambda x, c, rows: x.sum(-1)  # noqa: E731 (any fixed D)
    same_direction = lambda z, c: data * 5  # noqa: E731  cosine 1 with every row: no cost
    opposite = lambda z, c: -data  # noqa: E731  cosine -1: the largest cost, 2 per row
    off, on = ObjectiveSettings(noise_dim=4), ObjectiveSettings(noise_dim=4, reconstruction_weight=0.5)
    z = torch.randn(3, 4)
    for generate, distance in ((same_direction, 0.0), (opposite, 2.0)):
        _, g_off, stats_off = adversarial_losses(off, generate, judge, data, condition, z)
        _, g_on, stats_on = adversarial_losses(on, generate, judge, data, condition, z)
        assert len(stats_off) == 4 and stats_on[-1].item() == pytest.approx(distance, abs=1e-6)
        assert g_on.item() == pytest.approx(g_off.item() + 0.5 * distance, abs=1e-6)
    assert "reconstruction_weight" in on.identity() and "reconstruction_weight" not in off.identity()
    with pytest.raises(Exception, match="reconstruction_weight"):
        ObjectiveSettings(reconstruction_weight=-1.0).check()


def test_each_epochs_line_gives_the_time_left_to_the_epoch_budget(tmp_path):
    trainer = make_trainer(tmp_path, 100)
    assert trainer.eta() == ""  # nothing measured yet
    trainer.epoch = 10
    trainer.history = [{"epoch_seconds": 50.0, "eval_seconds": 10.0}] * 3 + [{"epoch_seconds": 120.0}] * 2
    assert trainer.eta() == "  eta 2h06m"  # 90 epochs x 84 s (the last five epochs' mean)
    trainer.epoch = 99
    assert trainer.eta() == "  eta 1m"
    trainer.epoch = 100
    assert trainer.eta() == ""
