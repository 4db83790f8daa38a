"""Train the Flickr tagging CGAN (paper §4.2) and the regressor baseline, each resumable.

Each model trains in runs/<name>/<model>-<key>/, the key a hash of its settings and of its
inputs (features, word vectors, pairs): run the same command again after an interruption and it
continues; a finished run is not trained again. The encoders' outputs must exist (python -m
multimodal.pipeline makes them, and runs this and the evaluation too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import torch

from cgan.adversarial import AdversarialTrainer
from cgan.cli import experiment_parser, run_cli, set_threads
from cgan.config import to_dict
from cgan.run_settings import check_seeds
from cgan.runs.checkpoint import load_checkpoint
from cgan.stacked import StackedTrainer
from cgan.sweeps.target import SweepTarget
from cgan.training import ShuffledBatches, Trainer, pick_device
from multimodal.baselines import RegressorTrainer
from multimodal.inputs import MODELS, Context, prepare
from multimodal.sampling import cgan_samplings, make_decoder, regressor_samplings
from multimodal.settings import FlickrExperiment, build_networks, load_experiment
from multimodal.validation import validation_score


def make_batches(context: Context) -> ShuffledBatches:
    """Minibatches of training (image, tag) pairs: (the tag's word vector, the image's features),
    and the image's concepts where the objective has an auxiliary classifier."""
    data, cfg = context.data, context.cfg
    features = torch.from_numpy(data.features)
    vectors = torch.from_numpy(data.word_vectors)
    rows = torch.from_numpy(data.train.rows[data.train.pair_image])
    words = torch.from_numpy(data.train.pair_word)
    concepts = torch.from_numpy(data.train.concepts[data.train.pair_image]) if cfg.objective.auxiliary_weight else None

    def fetch(indices):
        index = torch.from_numpy(indices)
        pair = vectors[words[index]], features[rows[index]]
        return pair if concepts is None else (*pair, concepts[index])

    return ShuffledBatches(len(rows), fetch, cfg.train.batch_size, cfg.seed)


def make_trainer(context: Context, model: str, run_dir: Path, progress: bool | None = None,
                 after_epoch=None) -> Trainer:
    """The trainer of one model ('cgan' or 'regressor') of ``context``'s config in ``run_dir``."""
    cfg = context.cfg
    generator, discriminator = build_networks(cfg, context.data.features.shape[1], len(context.data.concept_names))
    decoder = make_decoder(cfg, context.data, pick_device(cfg.device))
    common = dict(batches=make_batches(context), run_dir=run_dir, seed=cfg.seed,
                  identity=context.identity(model), config=to_dict(cfg), progress=progress, device=pick_device(cfg.device),
                  after_epoch=after_epoch)
    if model == "cgan":
        score = validation_score(generator, cfg, context.data, decoder, cgan_samplings(cfg), discriminator)
        return AdversarialTrainer(generator, discriminator, settings=cfg.train, objective=cfg.objective, evaluate=score,
                                  **common)
    settings = dataclasses.replace(cfg.train, max_epochs=cfg.regressor.max_epochs, patience=cfg.regressor.patience)
    score = validation_score(generator, cfg, context.data, decoder, regressor_samplings(cfg))
    return RegressorTrainer(generator, settings=settings, evaluate=score, loss=cfg.regressor.loss,
                            noise_dim=cfg.objective.noise_dim, **common)


def train_model(context: Context, model: str, fresh: bool = False, progress: bool | None = None,
                run_dir: Path | None = None, after_epoch=None) -> Path:
    """Train (or resume, or find finished) one model in ``run_dir`` (default: the folder keyed
    by its settings and inputs); returns its run folder."""
    run_dir = run_dir or context.run_dir(model)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    trainer = make_trainer(context, model, run_dir, progress, after_epoch)
    print(f"{model}: {run_dir} ({len(trainer.batches)} updates per epoch)", flush=True)
    trainer.fit()
    return run_dir


def seed_context(context: Context, seed: int) -> Context:
    """``context`` with another seed: its runs get folders of their own (the seed is in their key)."""
    return dataclasses.replace(context, cfg=dataclasses.replace(context.cfg, seed=seed))


def seed_contexts(context: Context, model: str, seeds: list[int]) -> dict[str, Context]:
    """{'<model>': ``context``, '<model>-seed<S>': each other seed's}, in that order: the run names
    of a model trained with several seeds."""
    check_seeds(list(seeds))
    return {model: context, **{f"{model}-seed{s}": seed_context(context, s) for s in seeds if s != context.cfg.seed}}


def cgan_seed_runs(context: Context, seeds: list[int]) -> dict[str, Path]:
    """{'cgan': the config's seed's folder, 'cgan-seed<S>': each other seed's}, in that order."""
    return {name: seeded.run_dir("cgan") for name, seeded in seed_contexts(context, "cgan", seeds).items()}


def train_cgan_seeds(context: Context, seeds: list[int], fresh: bool = False,
                     progress: bool | None = None) -> dict[str, Path]:
    """The CGAN of the config's seed and of ``seeds``, trained as one stack (cgan.stacked): each
    seed's folder is what a separate run with that seed writes. Runs saved at different epochs
    (e.g. the config's seed trained before) are stacked by epoch, one group after the other."""
    runs, groups = {}, {}
    for name, seeded in seed_contexts(context, "cgan", seeds).items():
        runs[name] = run_dir = seeded.run_dir("cgan")
        if fresh and run_dir.exists():
            shutil.rmtree(run_dir)
        groups.setdefault(saved_epoch(run_dir), []).append(make_trainer(seeded, "cgan", run_dir, progress))
    for epoch, members in sorted(groups.items()):
        print(f"cgan, seeds {', '.join(str(m.seed) for m in members)} from epoch {epoch}: "
              f"{', '.join(str(m.run_dir) for m in members)}", flush=True)
        if len(members) > 1:
            StackedTrainer(members).fit()
        else:
            members[0].fit()
    return runs


def saved_epoch(run_dir: Path) -> int:
    """The epoch a run folder's last checkpoint holds (0 when there is none)."""
    path = run_dir / "last.pt"
    return load_checkpoint(path)["epoch"] if path.is_file() else 0


def sweep_trial(cfg: FlickrExperiment, run_dir: Path, after_epoch, data_root: str | None = None,
                cache_dir: str | None = None, progress: bool | None = None) -> list[dict]:
    """One trial of a hyper-parameter sweep (cgan.sweeps.study): the CGAN of ``cfg`` trained in
    ``run_dir``; its history's 'score' is the validation P@10 in the configured sampling mode."""
    context = prepare(cfg, data_root, cache_dir, run_stages=False)
    train_model(context, "cgan", progress=progress, run_dir=run_dir, after_epoch=after_epoch)
    return json.loads((run_dir / "history.json").read_text())


SWEEP_TARGET = SweepTarget(load=load_experiment, train=sweep_trial, command="python -m multimodal.train --model cgan",
                           pipeline="multimodal")


def main(argv: list[str] | None = None) -> int:
    parser = experiment_parser(
        "experiments/flickr/flickr_cgan.yaml", prog="python -m multimodal.train", description=__doc__)
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all",
                        help="which model to train (default: all; the regressor only if regressor.enabled)")
    parser.add_argument("--fresh", action="store_true", help="delete the model's run folder and start over")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="per-epoch progress bar (default: when stderr is a terminal)")
    add_seeds_argument(parser)
    args = parser.parse_args(argv)
    cfg = load_experiment(args.config, args.overrides)
    set_threads(args.threads or cfg.threads)
    context = prepare(cfg, args.data_root, args.cache_dir, run_stages=False)
    train_models(context, args.model, args.seeds, args.fresh, args.progress)
    return 0


def add_seeds_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, nargs="+", default=[], metavar="S",
                        help="more seeds beside the config's: the CGAN's trained together as one stack, the "
                             "regressor's one after the other; each is a row of its own and the report "
                             "gives their mean and spread")


def train_models(context: Context, which: str = "all", seeds: list[int] = (), fresh: bool = False,
                 progress: bool | None = None) -> dict[str, Path]:
    """Train (or resume, or find finished) the models asked for; {run name: folder}."""
    runs = {}
    for model in context.run_dirs():
        if which not in (model, "all"):
            continue
        if model == "cgan" and seeds:
            runs.update(train_cgan_seeds(context, list(seeds), fresh, progress))
        elif model == "regressor":  # its seeds one after the other: a regressor has no stacked trainer
            runs.update({name: train_model(seeded, model, fresh, progress)
                         for name, seeded in seed_contexts(context, model, seeds).items()})
        else:
            runs[model] = train_model(context, model, fresh, progress)
    return runs


if __name__ == "__main__":
    run_cli(main)
