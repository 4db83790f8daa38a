"""Seeds trained together in one stack give what separate runs give (to float rounding)."""

import numpy as np
import pytest
import torch

from cgan.adversarial import AdversarialTrainer
from cgan.errors import UserFacingError
from cgan.objective import ObjectiveSettings
from cgan.runs.checkpoint import load_checkpoint
from cgan.stacked import StackedTrainer
from cgan.training import ShuffledBatches, TrainSettings
from tests.test_training import D, G


def member(run_dir, seed, max_epochs=2, **settings):
    torch.manual_seed(seed)
    rng = np.random.default_rng(0)
    data = torch.from_numpy(rng.random((60, 12), dtype=np.float32))
    cond = torch.eye(3)[torch.from_numpy(rng.integers(0, 3, 60))]
    labels = torch.from_numpy((rng.random((60, 2)) < 0.4).astype(np.float32))  # the auxiliary term's classes
    objective = ObjectiveSettings(noise_dim=4, **settings)
    classes = 2 if objective.auxiliary_weight else 0
    fetch = (lambda i: (data[i], cond[i], labels[i])) if classes else (lambda i: (data[i], cond[i]))
    batches = ShuffledBatches(60, fetch, batch_size=10, seed=seed)
    train = TrainSettings(max_epochs=max_epochs, lr_decay=1.001)
    scores = iter(range(100))
    return AdversarialTrainer(G.build(4, 3), D.build(12, 3, classes), batches, train, objective, run_dir, seed=seed,
                              evaluate=lambda epoch: {"score": -abs(next(scores) - 1)},  # best: epoch 2
                              identity={"seed": seed}, progress=False)


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.optimizer.params])


@pytest.mark.parametrize("settings", [{}, {"mismatched_weight": 0.5, "d_steps": 2}, {"diversity_weight": 0.5},
                                      {"diversity_weight": 0.5, "diversity_masks": "shared"},
                                      {"reconstruction_weight": 0.5}, {"auxiliary_weight": 0.5}])
def test_each_stacked_member_matches_its_separate_run(tmp_path, settings):
    seeds = (7, 8, 9)
    alone = [member(tmp_path / f"alone-{s}", s, **settings) for s in seeds]
    for trainer in alone:
        trainer.fit()
    stacked = [member(tmp_path / f"stack-{s}", s, **settings) for s in seeds]
    StackedTrainer(stacked).fit()
    for one, other in zip(alone, stacked):
        # batched matrix products may sum in another order: equal to float rounding, not bit for bit
        assert torch.allclose(weights(one), weights(other), atol=1e-6, rtol=1e-5)
        assert [r["epoch"] for r in other.history] == [1, 2] and other.updates == one.updates == 12
        for key in one.STATS:
            assert [r[key] for r in other.history] == pytest.approx([r[key] for r in one.history], rel=1e-5)
        saved, single = load_checkpoint(other.run_dir / "last.pt"), load_checkpoint(one.run_dir / "last.pt")
        assert saved["masks"] == single["masks"] and torch.equal(saved["noise_rng"], single["noise_rng"])
        for name, value in saved["generator"].items():  # each member saves its own weights, not the stack
            assert value.shape == single["generator"][name].shape
            assert value.untyped_storage().nbytes() == single["generator"][name].untyped_storage().nbytes()
        assert load_checkpoint(other.run_dir / "best.pt")["epoch"] == 2
    assert not torch.allclose(weights(stacked[0]), weights(stacked[1]))  # the seeds differ


def test_a_stack_resumes_from_its_members_folders(tmp_path):
    whole = [member(tmp_path / f"whole-{s}", s, max_epochs=2) for s in (1, 2)]
    StackedTrainer(whole).fit()
    first = [member(tmp_path / f"cut-{s}", s, max_epochs=1) for s in (1, 2)]
    StackedTrainer(first).fit()
    resumed = [member(tmp_path / f"cut-{s}", s, max_epochs=2) for s in (1, 2)]
    StackedTrainer(resumed).fit()
    for a, b in zip(whole, resumed):
        assert torch.equal(weights(a), weights(b))  # the same code path: bit for bit
        assert len(b.sessions) == 2


def test_a_stack_refuses_members_that_cannot_train_together(tmp_path):
    with pytest.raises(UserFacingError, match="same training settings"):
        StackedTrainer([member(tmp_path / "a", 1), member(tmp_path / "b", 2, d_steps=2)])
    with pytest.raises(UserFacingError, match="own run folder"):
        StackedTrainer([member(tmp_path / "a", 1), member(tmp_path / "a", 2)])
    ahead = member(tmp_path / "c", 3, max_epochs=1)
    ahead.fit()
    with pytest.raises(UserFacingError, match="same epoch"):
        StackedTrainer([member(tmp_path / "c", 3), member(tmp_path / "d", 4)]).fit()
