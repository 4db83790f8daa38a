"""Config pieces shared by every experiment: run settings, network shapes, and building them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from cgan.config import override_keys, require, unless_off
from cgan.errors import UserFacingError
from cgan.networks import LayerSpec, TowerNet, init_uniform_
from cgan.runs.paths import REPO_ROOT


@dataclass
class NetworkSettings:
    """One TowerNet: main input tower, condition tower, joint layers, output layer, dropout."""

    main_layers: list[str]
    joint_layers: list[str]
    output_layer: str
    init_range: float | None  # null: PyTorch's default nn.Linear init (uniform +-1/sqrt(fan_in), biases too)
    condition_layers: list[str] | None = None
    input_keep: float = 1.0
    hidden_keep: float = 1.0
    dropout_scaled: bool = True  # kept units x 1/keep in training; false: Pylearn2 with input_scale 1
    # Beyond the paper (D only): add the projection term <phi(x), V psi(y)> to the output (Miyato &
    # Koyama 2018), so that D scores how its input matches the condition directly.
    projection: bool = False

    def check(self) -> None:
        for text in [*self.main_layers, *(self.condition_layers or []), *self.joint_layers,
                     self.output_layer]:
            LayerSpec.parse(text)
        require(self.init_range is None or self.init_range > 0, "init_range must be > 0 (or null: PyTorch's default)")
        require(0 < self.input_keep <= 1, "input_keep is a keep probability in (0, 1]")
        require(0 < self.hidden_keep <= 1, "hidden_keep is a keep probability in (0, 1]")

    def identity(self) -> dict:
        """The settings as a run's identity holds them (``projection`` only when on, so that runs
        keyed before it existed keep their keys)."""
        return unless_off(asdict(self), ("projection",))

    def build(self, main_dim: int, condition_dim: int, auxiliary_classes: int = 0) -> TowerNet:
        """The network, initialised as Pylearn2's 'irange' (uniform weights, zero biases), or
        left at PyTorch's default when init_range is null; ``auxiliary_classes`` > 0 adds an
        AC-GAN head of that many classes (the objective's auxiliary term)."""
        net = TowerNet(main_dim, condition_dim, self.main_layers, self.condition_layers or [],
                       self.joint_layers, self.output_layer, self.input_keep, self.hidden_keep,
                       self.dropout_scaled, self.projection, auxiliary_classes)
        if self.init_range is not None:
            init_uniform_(net, self.init_range)
        return net


def train_identity(cfg) -> dict:
    """The loop's and the objective's settings that shape the weights, as one mapping: the
    'train' part of a run's identity, the same keys as before the objective had its own section
    (so runs made then resume, and a changed objective setting is never missed)."""
    return {**cfg.train.identity(), **cfg.objective.identity()}


MAX_SEED = 2**63 - 1  # torch.manual_seed's largest signed seed; numpy takes any whole number >= 0


def require_seed(seed: int, name: str = "seed") -> None:
    """A config's seed: a whole number from 0 to MAX_SEED (torch and numpy refuse others)."""
    require(0 <= seed <= MAX_SEED, f"{name} must be a whole number from 0 to 2^63 - 1")


def check_seeds(seeds: list[int]) -> None:
    """--seeds: whole numbers from 0 to MAX_SEED, none twice (each names a run folder)."""
    if len(set(seeds)) != len(seeds):
        raise UserFacingError("--seeds lists a seed twice")
    for seed in seeds:
        require_seed(seed, "each of --seeds")


# Settings that change where or how fast a run goes, not what it produces.
RUNTIME_KEYS = {"threads", "device", "run_dir", "results_dir"}


@dataclass(kw_only=True)
class RunSettings:
    """What every experiment config has: its name, seed, threads, device and where its
    checkpoints and committed results go (paths relative to the repository unless absolute)."""

    name: str
    seed: int
    threads: int | None = None
    device: str = "auto"
    run_dir: str = "runs"
    results_dir: str = "results"

    def check(self) -> None:
        require(self.name.replace("_", "").replace("-", "").isalnum(),
                "name must be letters, digits, '-' and '_' (it names the run folder)")
        require_seed(self.seed)
        require(self.threads is None or self.threads >= 1, "threads must be >= 1 or null")
        require(self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda"),
                "device must be auto, cpu, cuda or cuda:N")

    def path(self, value: str) -> Path:
        """A path of the config, relative to the repository root unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def results(self) -> Path:
        return self.path(self.results_dir)

    @property
    def run_root(self) -> Path:
        """<run_dir>/<name>: the experiment's checkpoints."""
        return self.path(self.run_dir) / self.name

    def route_tryout_results(self, overrides: list[str], write_results: bool = False,
                             result_keys: frozenset[str] = frozenset()) -> None:
        """A try-out (an override that changes what is trained or measured, other than the
        ``result_keys`` an experiment's own commands pass) writes its results under its run
        folder, never over the committed ones, unless ``write_results`` or the overrides name
        ``results_dir`` themselves."""
        keys = override_keys(overrides)
        changed = sorted(keys - RUNTIME_KEYS - result_keys)
        if write_results or "results_dir" in keys or not changed:
            return
        committed, self.results_dir = self.results_dir, str(self.run_root / "results")
        print(f"note: --set {', '.join(changed)} makes this a try-out: its results go to {self.results_dir} "
              f"(pass --write-results to write {committed} instead)", flush=True)
