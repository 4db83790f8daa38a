"""The objective: the paper's two losses by hand, each term beyond it, and the no-D control."""

import math

import numpy as np
import pytest
import torch

from cgan.adversarial import AdversarialTrainer
from cgan.objective import ObjectiveSettings, losses, stored_config
from cgan.training import ShuffledBatches, TrainSettings
from multimodal.baselines import RegressorTrainer
from tests.test_training import G


def _log_sigmoid(x: float) -> float:
    return math.log(1 / (1 + math.exp(-x)))


def test_with_every_extra_weight_at_zero_the_objective_is_the_papers_two_losses():
    """D: -(log D(x|y) + log(1 - D(G(z|y)|y))) / 2 over the batch; G: -log D(G(z|y)|y)
    (non-saturating, the GAN code) or log(1 - D(G(z|y)|y)) (minimax, eq. 1)."""
    data, condition, z = torch.tensor([[0.2, 0.4], [0.6, 0.8]]), torch.eye(2), torch.zeros(2, 3)
    fake = torch.tensor([[-1.0, 0.5], [1.5, 0.0]])
    generate = lambda z, c: fake  # noqa: E731
    judge = lambda x, c, rows: x.sum(-1)  # noqa: E731  logits: real 0.6, 1.4; fake -0.5, 1.5
    real_logits, fake_logits = [0.6, 1.4], [-0.5, 1.5]
    d_by_hand = 0.5 * (-sum(_log_sigmoid(a) for a in real_logits) / 2
                       - sum(_log_sigmoid(-c) for c in fake_logits) / 2)  # log(1 - s(c)) = log s(-c)
    g_by_hand = {"non_saturating": -sum(_log_sigmoid(c) for c in fake_logits) / 2,
                 "minimax": sum(_log_sigmoid(-c) for c in fake_logits) / 2}
    for form, expected in g_by_hand.items():
        paper = ObjectiveSettings(noise_dim=3, generator_loss=form)
        assert paper.identity() == {"generator_loss": form, "noise": "unit_uniform", "noise_dim": 3, "d_steps": 1,
                                    "mismatched_weight": 0.0}
        d_loss, g_loss, stats = losses(paper, generate, judge, data, condition, z)
        assert d_loss.item() == pytest.approx(d_by_hand, abs=1e-6)
        assert g_loss.item() == pytest.approx(expected, abs=1e-6)
        assert paper.stats() == ("d_loss", "g_loss", "d_real", "d_fake") and len(stats) == 4
        assert stats[2].item() == pytest.approx(np.mean([1 / (1 + math.exp(-a)) for a in real_logits]), abs=1e-6)


def _pairs(seed=3):
    rng = np.random.default_rng(seed)
    target = torch.nn.functional.normalize(torch.from_numpy(rng.standard_normal((40, 12), dtype=np.float32)), dim=1)
    condition = torch.eye(3)[torch.from_numpy(rng.integers(0, 3, 40))]
    return ShuffledBatches(40, lambda i: (target[i], condition[i]), batch_size=10, seed=seed)


def test_without_the_adversarial_term_no_d_is_built_and_the_update_is_the_regressors(tmp_path):
    """adversarial_weight 0 + reconstruction weight 1: G descends 1 - cos(G(z|y), x) alone, which
    is the regressor baseline's cosine update when G's output does not depend on z."""
    from unimodal.settings import build_networks, load_experiment

    no_d = load_experiment("experiments/mnist/mnist_smoke.yaml", ["objective.adversarial_weight=0",
                                                                 "objective.reconstruction_weight=1"])
    assert build_networks(no_d)[1] is None
    with pytest.raises(Exception, match="nothing to learn"):
        ObjectiveSettings(adversarial_weight=0.0).check()

    objective = ObjectiveSettings(noise_dim=4, adversarial_weight=0.0, reconstruction_weight=1.0)
    settings = TrainSettings(max_epochs=1, lr_decay=1.001)
    torch.manual_seed(0)
    generator = G.build(4, 3)
    with torch.no_grad():
        generator.main_tower[0][0].weight.zero_()  # G's output no longer depends on z
    twin = G.build(4, 3)
    twin.load_state_dict(generator.state_dict())
    cgan = AdversarialTrainer(generator, None, _pairs(), settings, objective, tmp_path / "cgan", seed=5, progress=False)
    regressor = RegressorTrainer(twin, _pairs(), settings, tmp_path / "regressor", 5, loss="cosine", noise_dim=4,
                                 progress=False)
    assert list(cgan.networks) == ["generator"] and cgan.STATS == ("g_loss", "reconstruction")
    data, condition = next(_pairs().epoch(1))
    for _ in range(3):
        stats = cgan.step(data, condition, 0.5)
        loss = regressor.step(data, condition, 0.5)
        assert stats[0].item() == pytest.approx(loss.item(), abs=1e-6)
    for a, b in zip(cgan.optimizer.params, regressor.optimizer.params):
        assert torch.allclose(a, b, atol=1e-6)


def test_checkpoints_written_before_the_objective_section_load_in_todays_schema():
    old = {"name": "x", "train": {"batch_size": 100, "noise": "gaussian", "diversity_weight": 2.0}}
    new = stored_config(old)
    assert new["train"] == {"batch_size": 100}
    assert new["objective"] == {"noise": "gaussian", "diversity_weight": 2.0}
    assert stored_config(new) == new


def test_a_projection_discriminator_adds_the_inner_product_of_input_and_projected_condition():
    """D(x|y) = psi(phi(x), y) + <phi(x), V psi_y(y)> (Miyato & Koyama 2018); the projection's
    weights at zero give the plain D, and the term follows a hand-made V."""
    from cgan.run_settings import NetworkSettings

    settings = NetworkSettings(main_layers=["relu 3"], condition_layers=["relu 2"], joint_layers=["relu 4"],
                               output_layer="sigmoid 1", init_range=0.5, projection=True)
    torch.manual_seed(0)
    d = settings.build(5, 6).eval()
    x, y = torch.rand(4, 5), torch.rand(4, 6)
    with torch.no_grad():
        d.projection.weight.zero_()
        d.projection.bias.zero_()
        plain = d(x, y)
        d.projection.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
        phi_x = d.main_tower[0](x)  # relu 3 of x
        psi_y = d.condition_tower[0](y)  # relu 2 of y
        by_hand = (phi_x * (psi_y @ d.projection.weight.T)).sum(-1, keepdim=True)
        assert torch.allclose(d(x, y), plain + by_hand, atol=1e-6)
        assert torch.allclose(d(x, None, d.encode_condition(y)), plain + by_hand, atol=1e-6)  # the shared-tower path
    assert "projection" not in NetworkSettings(["relu 3"], ["relu 4"], "sigmoid 1", 0.5).identity()
    assert settings.identity()["projection"] is True


def test_a_stack_of_projection_discriminators_matches_each_one_alone():
    from cgan.run_settings import NetworkSettings
    from cgan.stacked import StackedNet

    settings = NetworkSettings(main_layers=["maxout 4x2"], condition_layers=["maxout 3x2"], joint_layers=["maxout 4x2"],
                               output_layer="sigmoid 1", init_range=0.3, projection=True)
    nets = [settings.build(5, 6).eval() for _ in range(2)]
    stack = StackedNet(nets)
    x, y = torch.rand(2, 7, 5), torch.rand(2, 7, 6)
    with torch.no_grad():
        together = stack(x, y)
        for i, net in enumerate(nets):
            assert torch.allclose(together[i], net(x[i], y[i]), atol=1e-5)


def _bce(logit: float, label: float) -> float:
    """-(y log s(l) + (1 - y) log(1 - s(l)))."""
    return -(label * _log_sigmoid(logit) + (1 - label) * _log_sigmoid(-logit))


def test_the_auxiliary_classifier_adds_its_class_loss_to_d_on_real_and_fake_rows_and_to_g_on_fake_rows():
    """AC-GAN (Odena et al. 2017): D descends w * (L_C(real) + L_C(fake)), G w * L_C(fake), where
    L_C is the head's binary cross-entropy against each row's classes, over classes and rows."""
    data, condition, z = torch.tensor([[0.2, 0.4], [0.6, 0.8]]), torch.eye(2), torch.zeros(2, 3)
    fake = torch.tensor([[-1.0, 0.5], [1.5, 0.0]])
    generate = lambda z, c: fake  # noqa: E731
    judge = lambda x, c, rows: x.sum(-1)  # noqa: E731
    head = torch.tensor([[1.0, -2.0, 0.0], [0.5, 1.0, -1.0]])
    classify = lambda x: x @ head  # noqa: E731  class logits of the rows alone
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

    def class_loss(rows):
        logits = (rows @ head).tolist()
        return sum(_bce(l_, y) for row, ys in zip(logits, labels.tolist()) for l_, y in zip(row, ys)) / 6

    paper = ObjectiveSettings(noise_dim=3)
    with_head = ObjectiveSettings(noise_dim=3, auxiliary_weight=0.5)
    d_paper, g_paper, _ = losses(paper, generate, judge, data, condition, z)
    d_loss, g_loss, stats = losses(with_head, generate, judge, data, condition, z, classify, labels)
    assert d_loss.item() == pytest.approx(d_paper.item() + 0.5 * (class_loss(data) + class_loss(fake)), abs=1e-6)
    assert g_loss.item() == pytest.approx(g_paper.item() + 0.5 * class_loss(fake), abs=1e-6)
    assert with_head.stats()[-2:] == ("auxiliary_real", "auxiliary_fake")
    assert stats[-2].item() == pytest.approx(class_loss(data), abs=1e-6)
    assert stats[-1].item() == pytest.approx(class_loss(fake), abs=1e-6)
    assert "auxiliary_weight" not in paper.identity() and with_head.identity()["auxiliary_weight"] == 0.5
    with pytest.raises(Exception, match="class labels"):
        losses(with_head, generate, judge, data, condition, z)
    with pytest.raises(Exception, match="needs a D"):
        ObjectiveSettings(adversarial_weight=0.0, reconstruction_weight=1.0, auxiliary_weight=0.5).check()


def test_the_auxiliary_head_reads_the_data_alone_through_ds_main_tower():
    """The head names the classes from D's features of its input, never from the condition
    (which, for Flickr, is the image the concepts belong to)."""
    from cgan.run_settings import NetworkSettings

    settings = NetworkSettings(main_layers=["relu 3"], condition_layers=["relu 2"], joint_layers=["relu 4"],
                               output_layer="sigmoid 1", init_range=0.5)
    torch.manual_seed(0)
    d = settings.build(5, 6, auxiliary_classes=4).eval()
    x = torch.rand(7, 5)
    with torch.no_grad():
        assert torch.allclose(d.classify(x, None), d.auxiliary(d.main_tower[0](x)), atol=1e-6)
    assert d.classify(x, None).shape == (7, 4) and d(x, torch.rand(7, 6)).shape == (7, 1)
    assert settings.build(5, 6).auxiliary is None


def test_mnist_refuses_the_auxiliary_term():
    from unimodal.settings import load_experiment

    with pytest.raises(Exception, match="Flickr pipeline only"):
        load_experiment("experiments/mnist/mnist_smoke.yaml", ["objective.auxiliary_weight=1"])
