"""The adversarial training loop: updates, best checkpoint, resume after interruption."""

import numpy as np
import pytest
import torch

import cgan.checkpoint as checkpoint
from cgan.errors import UserFacingError
from cgan.experiment import NetworkSettings
from cgan.training import AdversarialTrainer, ShuffledBatches, TrainSettings

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
    settings = TrainSettings(max_epochs=max_epochs, noise_dim=4, lr_decay=1.001)
    score_list = list(scores or [])
    evaluate = (lambda epoch: {"score": score_list[epoch - 1]}) if scores else None
    return AdversarialTrainer(G.build(4, 3), D.build(12, 3), batches, settings, run_dir, seed=7,
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
