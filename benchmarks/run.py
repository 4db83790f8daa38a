"""`make bench`: every speed target of the project, measured on this machine.

Writes results/bench/bench-<cpu>-<vector unit>.json and .md, one pair per CPU model and vector
unit (the machines that lend this project their cores differ from session to session, and a VM may
name two alike: an AVX2 and an AVX-512 AMD EPYC, an AVX-512 Intel Xeon), so that one machine's
figures never replace another's; `--only gpu` on a machine with a GPU writes
results/bench/bench-<gpu>.json and .md. Run it on an otherwise idle machine: a
training run in the background halves every number.
"""

import argparse
import importlib
import re
import time
from pathlib import Path

import torch

from cgan.cli import run_cli
from cgan.runs.files import write_json
from cgan.runs.paths import REPO_ROOT
from cgan.runs.provenance import provenance

BENCHMARKS = {
    "training": "benchmarks.training_bench",
    "parzen": "benchmarks.parzen_bench",
    "features": "benchmarks.features_bench",
    "gpu": "benchmarks.gpu_bench",
}


def render(results: dict) -> str:
    lines = ["# Benchmarks", "", f"Machine: {results['provenance']['machine']}", "",
             f"Command `{results['provenance']['command']}` at commit "
             f"`{results['provenance']['commit']}`, {results['provenance']['date']}.", ""]
    for name, values in results["benchmarks"].items():
        lines += [f"## {name}", "", "| measure | value |", "|---|---|"]
        for key, value in values.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"| {key} | {shown} |")
        lines.append("")
    return "\n".join(lines)


def machine_slug(cpu: str) -> str:
    """A file-name part for a CPU model: 'Intel(R) Xeon(R) Processor' -> 'intel-xeon-processor'."""
    words = re.sub(r"\((r|tm)\)", "", cpu.lower())
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-") or "unknown-cpu"


def bench_machine(machine: dict, only: list[str] | None, capability: str = "") -> str | None:
    """Whose figures a run holds: the GPU's when only the GPU was measured (None without a GPU:
    nothing was measured, and no file is written), else the CPU's with its vector unit (torch's
    CPU capability): virtual machines name different CPUs alike ('AMD EPYC' has been an AVX2 and
    an AVX-512 machine), and one's figures must not replace the other's."""
    if only == ["gpu"]:
        return machine.get("gpu")
    return f"{machine['cpu']} {capability}".strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None,
                        help="run only these benchmarks")
    parser.add_argument("--out", default=str(REPO_ROOT / "results" / "bench"), help="output folder")
    args = parser.parse_args(argv)
    results = {"provenance": provenance(), "benchmarks": {}}
    for name in args.only or BENCHMARKS:
        started = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
        except ModuleNotFoundError:
            continue
        results["benchmarks"][name] = {**module.run(), "wall_seconds": time.perf_counter() - started}
        print(name, results["benchmarks"][name], flush=True)
    out = Path(args.out)
    measured = bench_machine(results["provenance"]["machine"], args.only, torch.backends.cpu.get_cpu_capability())
    if measured is None:
        print("no GPU seen by torch: nothing measured, no file written")
        return 0
    name = f"bench-{machine_slug(measured)}"
    write_json(results, out / f"{name}.json")
    (out / f"{name}.md").write_text(render(results))
    print(f"wrote {out / name}.md")
    return 0


if __name__ == "__main__":
    run_cli(main)
