"""Several runs of one experiment that differ only in their seed, trained together as one stack.

Each member is an ordinary ``AdversarialTrainer`` with its own run folder, checkpoints, best
tracking, data order, noise stream and dropout-mask stream, so that its folder is what a separate
run with that seed writes, and it evaluates and resumes like one. Only the update is shared: the
members' parameters (and momentum velocities) live in stacked tensors, (models, ...), of which
each member's own parameters are views, and one batched forward and backward pass (``baddbmm``)
updates all of them. Per model the math is the single run's, with its own masks and noise drawn
in the same order; batched matrix products may sum in another order than the single ones, so
stacked and separate runs agree to float rounding (tested), not bit for bit.

Why: on a GPU one small MLP leaves most of the device idle, and N stacked models cost little more
than one; on a CPU the gain is smaller (larger matrix products, one Python loop instead of N).
"""

from __future__ import annotations

import contextlib
import time
from functools import partial

import torch
from torch import nn
from tqdm import tqdm

from cgan import objective as objective_
from cgan.adversarial import AdversarialTrainer, judge_pairs
from cgan.errors import UserFacingError
from cgan.networks import DropoutMasks, Maxout, TowerNet, TwinMasks
from cgan.noise import sample_noise
from cgan.optim import MomentumSGD
from cgan.runs.files import remove_stale_temp_files
from cgan.runs.locks import FolderLock
from cgan.runs.provenance import provenance


class StackedMasks:
    """Each model's dropout mask from its own mask source, in the order a single run draws them."""

    def __init__(self, sources: list[DropoutMasks]):
        self.sources = sources

    def mask(self, shape: tuple[int, ...], keep: float, scaled: bool = True) -> torch.Tensor:
        """Masks for ``shape`` = (models, ...): each model's from its own source."""
        return torch.stack([source.mask(tuple(shape[1:]), keep, scaled) for source in self.sources])

    def apply(self, x: torch.Tensor, keep: float, scaled: bool = True) -> torch.Tensor:
        if keep >= 1.0:
            return x
        return x * self.mask(tuple(x.shape), keep, scaled).to(x.device, non_blocking=True)


class StackedNet:
    """Same-shaped TowerNets run as one: their parameters stacked, each network's own parameters
    made views of the stack (so their state dicts, checkpoints and evaluation see the stack's
    current values)."""

    def __init__(self, nets: list[TowerNet]):
        self.template, self.nets = nets[0], nets
        names = [name for name, _ in self.template.named_parameters()]
        self.params = {name: torch.stack([dict(net.named_parameters())[name].detach() for net in nets])
                       .requires_grad_(True) for name in names}
        for i, net in enumerate(nets):
            for name, param in net.named_parameters():
                param.data = self.params[name].detach()[i]
        self.prefix = {module: name for name, module in self.template.named_modules()}

    def apply(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """One layer of the template with the stacked weights: x (models, rows, features)."""
        name = self.prefix[layer]
        if isinstance(layer, Maxout):
            return layer.pool(self._linear(f"{name}.linear", x))
        if isinstance(layer, nn.Sequential):  # Linear + ReLU ('relu N')
            return torch.relu(self._linear(f"{name}.0", x))
        return self._linear(name, x)

    def _linear(self, name: str, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.params[f"{name}.weight"], self.params[f"{name}.bias"]
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    def __call__(self, main, condition=None, encoded_condition=None, drop=None) -> torch.Tensor:
        return self.template.run(main, condition, encoded_condition, drop, self.apply)

    def encode_condition(self, condition: torch.Tensor) -> torch.Tensor:
        return self.template.encode_condition(condition, self.apply)


class StackedTrainer:
    """Trains ``members`` (AdversarialTrainers with equal settings and data sizes, different
    seeds and run folders) epoch by epoch in one stack; each member keeps its own checkpoints."""

    def __init__(self, members: list[AdversarialTrainer]):
        if len({(len(m.batches), m.batches.batch_size) for m in members}) != 1:
            raise UserFacingError("stacked runs need the same data size and batch size")
        if len({(repr(m.settings), repr(m.objective)) for m in members}) != 1:
            raise UserFacingError("stacked runs need the same training settings (only the seed may differ)")
        if len({m.run_dir.resolve() for m in members}) != len(members):
            raise UserFacingError("each stacked run needs its own run folder")
        self.members = members
        self.settings = members[0].settings
        self.progress = members[0].progress

    def fit(self) -> None:
        """Train every member to max_epochs (or its patience), resuming each from its folder."""
        with contextlib.ExitStack() as locks:
            for member in self.members:
                locks.enter_context(FolderLock(member.run_dir, "training"))
                remove_stale_temp_files(member.run_dir)
                member.resume()
                member.sessions.append({**provenance(), "start_epoch": member.epoch, "stacked": len(self.members)})
            if len({(m.epoch, m.updates) for m in self.members}) != 1:
                at = ", ".join(f"{m.run_dir.name}: epoch {m.epoch}" for m in self.members)
                raise UserFacingError(f"stacked runs must resume from the same epoch ({at}); finish them one by one")
            while True:
                active = [m for m in self.members if m.epoch < self.settings.max_epochs and not m.stopped_early]
                if not active:
                    break
                self.run_epoch(active)

    def run_epoch(self, active: list[AdversarialTrainer]) -> None:
        """One epoch of the ``active`` members (those whose patience ran out stay as they are)."""
        stack = Stack(active)
        begun = [m.begin_epoch() for m in active]
        epoch, momentum, _ = begun[0]
        started = time.perf_counter()
        totals = torch.zeros(len(active), len(active[0].STATS), device=active[0].device)
        batches = zip(*(m.batches.epoch(epoch) for m in active))
        for minibatches in tqdm(batches, total=len(active[0].batches), disable=not self.progress,
                                desc=f"epoch {epoch}/{self.settings.max_epochs} ({len(active)} stacked)", leave=False):
            totals += stack.step(minibatches, momentum)
        seconds = time.perf_counter() - started
        for i, member in enumerate(active):
            member.end_epoch(epoch, momentum, begun[i][2], totals[i], seconds)


class Stack:
    """The members' networks, optimizer and mask sources as one stack, and its update."""

    def __init__(self, members: list[AdversarialTrainer]):
        self.members, self.lead, self.objective = members, members[0], members[0].objective
        self.generator = StackedNet([m.generator for m in members])
        self.discriminator = StackedNet([m.discriminator for m in members]) if self.lead.discriminator else None
        self.d_params = list(self.discriminator.params.values()) if self.discriminator else []
        self.g_params = list(self.generator.params.values())
        self.optimizer = stack_optimizers([m.optimizer for m in members], self.d_params + self.g_params)
        self.masks = StackedMasks([m.masks for m in members])

    def step(self, minibatches: list[tuple], momentum: float) -> torch.Tensor:
        """One update of every member from its own minibatch; returns (members, STATS)."""
        lead, device, objective = self.lead, self.lead.device, self.objective
        data, condition, *labels = (stack_rows(parts, device) for parts in zip(*minibatches))
        labels = labels[0] if labels else None
        z = torch.stack([sample_noise(objective.noise, objective.noise_rows(data.shape[1]), objective.noise_dim,
                                      m.noise_rng) for m in self.members]).to(device)
        stats = objective_.step(objective, self.generate, self.judge if self.discriminator else None, data,
                                condition, z, self.d_params, self.g_params, self.optimizer,
                                lead.lr_schedule(lead.updates), momentum, lead.updates, self.classify, labels)
        for member in self.members:
            member.updates += 1
        return stats.T

    def generate(self, z: torch.Tensor, condition: torch.Tensor | None, twins: bool = False) -> torch.Tensor:
        drop = TwinMasks(self.masks) if twins else self.masks
        return self.lead.generator.output_activation(self.generator(z, condition, drop=drop))

    def judge(self, data: torch.Tensor, condition: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor:
        return judge_pairs(partial(self.discriminator, drop=self.masks), self.discriminator.encode_condition,
                           self.lead.discriminator.condition_dropout_free, data, condition, rows)


    def classify(self, data: torch.Tensor) -> torch.Tensor:
        return self.lead.discriminator.classify(data, self.masks, self.discriminator.apply)


def stack_rows(parts: tuple, device: torch.device) -> torch.Tensor | None:
    """The members' tensors of one kind (data, condition or labels) as one (models, ...) tensor."""
    return None if parts[0] is None else torch.stack(parts).to(device, non_blocking=True)


def stack_optimizers(optimizers: list[MomentumSGD], params: list[torch.Tensor]) -> MomentumSGD:
    """One momentum-SGD over stacked ``params`` whose velocities are the members' (theirs become
    views of the stacked ones, so that each member's checkpoint holds its own velocities)."""
    stacked = MomentumSGD(params)
    stacked.velocities = [torch.stack([opt.velocities[i] for opt in optimizers]) for i in range(len(params))]
    for k, opt in enumerate(optimizers):
        opt.velocities = [v[k] for v in stacked.velocities]
    return stacked
