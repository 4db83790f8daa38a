#!/usr/bin/env bash
# One GPU session, as one command: the GPU's benchmark figures, then what the open work needs a
# GPU for, trained side by side on the GPU for TRAIN_SECONDS: Table 1's headline CGAN
# (mnist_cgan_diverse_shared) and the GAN with 3 seeds each (stacked), and the CGAN as written
# (its time on a GPU); each evaluated under the paper's protocol from its best validation epoch (a
# run the clock stopped is marked partial, with its epochs), Table 1 rebuilt, the seed-1234
# generators exported (fp16), and all of it packed for the repository it came from.
#
# Why one script: a lent GPU comes for minutes (in this project's workplace: 15 minutes a session,
# 10 a command), and a fresh machine starts bare, so everything it must do is prepared and checked
# on a CPU first (TRAIN_SECONDS=60 EXTRA="--set train_images=1000", in a clone: its plumbing in minutes).
#
# Usage (from the repository root; nothing is downloaded, so point CGAN_DATA_ROOT at a folder
# holding mnist/):
#   CGAN_DATA_ROOT=<folder> CGAN_GIT_COMMIT=<the commit this tree is> PACK=<folder> \
#       bash benchmarks/gpu_session.sh
# PACK receives session.tar.gz (results/, weights' .sha256 files, logs) and the generators'
# .safetensors (each under 16 MiB); unpack with `tar -xzf session.tar.gz` in a scratch folder and
# compare before copying: a GPU run is another trajectory than the CPU run of the same config and
# seed (another summation order), and its results file would replace the CPU run's.
# CGAN_GIT_COMMIT matters where the tree has no .git folder.
set -u
PY=${PY:-python3}
PACK=${PACK:?set PACK to the folder that receives the results}
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
THREADS=${THREADS:-2}
read -r -a EXTRA <<< "${EXTRA:-}"  # e.g. EXTRA="--set train_images=1000" for a plumbing check on a CPU
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CGAN_CACHE_DIR=${CGAN_CACHE_DIR:-/tmp/cgan-cache}
mkdir -p "$PACK" runs/logs
started=$(date +%s)
say() { echo "[gpu_session $(( $(date +%s) - started ))s] $*"; }

say "benchmarks (GPU only)"
$PY -m benchmarks.run --only gpu > runs/logs/gpu_bench.log 2>&1 || say "benchmark failed: see runs/logs/gpu_bench.log"

# Each run stops at its epoch budget or when the clock says so (SIGTERM: checkpoints are written
# atomically at each epoch's end, so the last finished epoch is kept).
train() { timeout -s TERM "$TRAIN_SECONDS" $PY -m unimodal.train --no-evaluate --no-progress --threads "$THREADS" "${EXTRA[@]}" "$@"; }
say "training for at most ${TRAIN_SECONDS}s: mnist_cgan_diverse_shared and mnist_gan (seeds 1234, 1, 2 each, stacked), mnist_cgan"
train --config experiments/mnist/mnist_cgan_diverse_shared.yaml --seeds 1234 1 2 > runs/logs/mnist_cgan_diverse_shared.log 2>&1 &
train --config experiments/mnist/mnist_gan.yaml --seeds 1234 1 2 > runs/logs/mnist_gan.log 2>&1 &
train --config experiments/mnist/mnist_cgan.yaml > runs/logs/mnist_cgan.log 2>&1 &
wait

evaluate() { $PY -m unimodal.evaluate --write-results --threads "$THREADS" "${EXTRA[@]}" "$@"; }
say "evaluating under the protocol"
evaluate --config experiments/mnist/mnist_cgan.yaml > runs/logs/eval_mnist_cgan.log 2>&1  # trains the scoring classifier once
evaluate --config experiments/mnist/mnist_gan.yaml --seeds 1234 1 2 > runs/logs/eval_mnist_gan.log 2>&1 &
evaluate --config experiments/mnist/mnist_cgan_diverse_shared.yaml --seeds 1234 1 2 > runs/logs/eval_mnist_cgan_diverse_shared.log 2>&1 &
wait
$PY -m unimodal.report > runs/logs/report.log 2>&1

say "exporting the generators"
for name in mnist_cgan mnist_gan mnist_cgan_diverse_shared; do
    if [ -f runs/$name/best.pt ]; then
        $PY -m unimodal.export --checkpoint runs/$name/best.pt --out weights/$name.safetensors --half \
            >> runs/logs/export.log 2>&1 && cp weights/$name.safetensors "$PACK/"
    fi
done
$PY -m unimodal.from_weights > runs/logs/from_weights.log 2>&1 || say "from_weights failed: see its log"

tar -czf "$PACK/session.tar.gz" results/mnist results/bench weights/*.sha256 runs/logs runs/table1_from_weights 2>/dev/null
say "done: $(ls "$PACK" | tr '\n' ' ')"
grep -h "test Parzen" runs/logs/eval_*.log
