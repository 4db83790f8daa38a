# One command per result. Data: set CGAN_DATA_ROOT (or DATA_ROOT=...) to a folder holding local
# copies (mnist/, mirflickr25k/, text/); otherwise the data is downloaded into .cache/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Idle OpenMP threads sleep instead of spinning: on a small machine, two torch processes
# (e.g. training and the tests) otherwise slow each other down twentyfold.
# A training alone on the machine: GOMP_SPINCOUNT=100000 make <target> lets idle threads spin
# (1.3-1.9x faster updates, README "make bench"); the explicit count overrides PASSIVE.
export OMP_WAIT_POLICY ?= PASSIVE
ifdef DATA_ROOT
export CGAN_DATA_ROOT := $(DATA_ROOT)
endif

.PHONY: help setup setup-dev test lint status sweep flickr-smoke mnist mnist-headline mnist-cgan mnist-gan mnist-gan-open mnist-smoke mnist-real-reference tables table1-from-weights bench clean-runs flickr-features flickr-wordvecs flickr-tags flickr-cgan flickr-report flickr-summary

help:
	@echo "make setup       create $(VENV) and install everything (requirements.txt + this package)"
	@echo "make test        run the test suite"
	@echo "make mnist       every Table 1 row: the GAN, the CGAN as written, the CGAN with the GAN code's noise and the headline CGAN (3 seeds each), trained where missing (resumable), evaluated, then the tables (days on 2 CPU cores)"
	@echo "make mnist-headline only Table 1's headline CGAN row: experiments/mnist/mnist_cgan_diverse_shared.yaml with seeds 1234, 1, 2 stacked, evaluated, then the tables (~9.5 h on 2 CPU cores; resumable)"
	@echo "make mnist-cgan  only the conditional net (resumable: run again to continue); MNIST_CONFIG=experiments/mnist/mnist_cgan_diverse16.yaml another configuration, SEEDS='1 2' those seeds stacked in one process (runs/<name>-seed<S>)"
	@echo "make mnist-gan   only Goodfellow's unconditional net"
	@echo "make mnist-gan-open the unconditional net as its code trained it: no 600-epoch cap, on to the lr floor (days on a CPU; resumable; starts from runs/mnist_gan's epochs when there)"
	@echo "make mnist-smoke the MNIST pipeline end to end on a small slice, in a minute (outputs under runs/)"
	@echo "make flickr-smoke the Flickr pipeline end to end on a tiny generated MIR-Flickr-shaped data set (its test)"
	@echo "make status      where every run under runs/ stands: epoch of budget, best epoch, training now?, hours left"
	@echo "make mnist-real-reference  Table 1's reference row: real training digits scored by the same Parzen protocol -> results/mnist/real_reference.json (a minute)"
	@echo "make tables      rebuild results/mnist/table1.md, curves.png and figure2.png from the JSON files"
	@echo "make table1-from-weights  re-evaluate Table 1 from the shipped generators in weights/ (minutes, no training)"
	@echo "make flickr-features  CNN features of MIR Flickr -> .cache/flickr/features/<backbone> (resumable; BACKBONE as for flickr-tags)"
	@echo "make flickr-wordvecs  skip-gram word vectors -> .cache/flickr/wordvecs, report results/flickr/flickr_wordvecs.md"
	@echo "make flickr-tags  every Flickr row: features, word vectors, the CGAN as written, the reconstruction CGAN, its no-D control and its AC-GAN variant (3 seeds each), the tuned baselines, then the controls table (results/flickr; BACKBONE=efficientnet-lite0 by default, the one installable offline; alexnet/vgg16 give the paper's fc7)"
	@echo "make flickr-cgan  one Flickr configuration: FLICKR_CONFIG=experiments/flickr/....yaml, SEEDS='1 2' more seeds (stacked)"
	@echo "make flickr-report rebuild every results/flickr folder's markdown and figures from its JSON, then the controls table and the headline Table 2"
	@echo "make flickr-summary results/flickr/summary.md: the faithful, matching-aware, diverse, reconstruction and auxiliary-head configurations side by side (after each is evaluated)"
	@echo "make sweep SPACE=experiments/mnist/sweeps/....yaml [CONFIG=another base config] [ARGS='--trials 8 --epochs 20']"
	@echo "                  hyper-parameter sweep on Optuna -> results/<experiment>/sweeps/<study> (python -m unimodal.sweep / multimodal.sweep --help)"
	@echo "make bench       speed benchmarks (training updates/s, matmul peak, Parzen protocol, feature extraction; GPU when present)"
	@echo "make lint        ruff"
	@echo "make setup-dev   only reinstall this package (editable), e.g. after pulling"
	@echo "make clean-runs  delete runs/ (checkpoints of every experiment; results/ is kept)"

$(PY):
	$(PYTHON) -m venv $(VENV)

setup: $(PY)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .

setup-dev: $(PY)
	$(PY) -m pip install --no-deps -e .

test:
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check .

# Table 1's rows, in the order the table lists them; each resumes, or finds its run finished.
WORKING_CONFIG := experiments/mnist/mnist_cgan_symnoise.yaml

mnist:
	$(PY) -m unimodal.train --config experiments/mnist/mnist_gan.yaml
	$(PY) -m unimodal.train --config experiments/mnist/mnist_cgan.yaml
	$(PY) -m unimodal.train --config $(WORKING_CONFIG) --seeds $(HEADLINE_SEEDS)
	$(PY) -m unimodal.train --config $(HEADLINE_CONFIG) --seeds $(HEADLINE_SEEDS)
	$(PY) -m unimodal.report

MNIST_CONFIG ?= experiments/mnist/mnist_cgan.yaml

mnist-cgan:
	$(PY) -m unimodal.train --config $(MNIST_CONFIG) $(if $(SEEDS),--seeds $(SEEDS))

HEADLINE_CONFIG := experiments/mnist/mnist_cgan_diverse_shared.yaml
HEADLINE_SEEDS := 1234 1 2

mnist-headline:
	$(PY) -m unimodal.train --config $(HEADLINE_CONFIG) --seeds $(HEADLINE_SEEDS)
	$(PY) -m unimodal.report

mnist-gan:
	$(PY) -m unimodal.train --config experiments/mnist/mnist_gan.yaml

mnist-gan-open:
	$(PY) -m unimodal.train --config experiments/mnist/mnist_gan_open.yaml $(if $(wildcard runs/mnist_gan/last.pt),--continue-from runs/mnist_gan)

mnist-smoke:
	$(PY) -m unimodal.train --config experiments/mnist/mnist_smoke.yaml --fresh

status:
	$(PY) -m cgan.runs.status

mnist-real-reference:
	$(PY) -m unimodal.real_reference

tables:
	$(PY) -m unimodal.report

table1-from-weights:
	$(PY) -m unimodal.from_weights

flickr-features:
	$(PY) -m features.cnn --set backbone=$(BACKBONE)

flickr-wordvecs:
	$(PY) -m features.skipgram

BACKBONE ?= efficientnet-lite0
FLICKR_SEEDS := 1 2
FLICKR := $(PY) -m multimodal.pipeline --set encoders.backbone=$(BACKBONE)

flickr-tags:
	$(FLICKR) --config experiments/flickr/flickr_cgan.yaml
	$(FLICKR) --config experiments/flickr/flickr_cgan_reconstruction.yaml --seeds $(FLICKR_SEEDS)
	$(FLICKR) --config experiments/flickr/flickr_cgan_reconstruction_no_d.yaml --seeds $(FLICKR_SEEDS)
	$(FLICKR) --config experiments/flickr/flickr_cgan_auxiliary.yaml --seeds $(FLICKR_SEEDS)
	$(PY) -m multimodal.baselines_report --config experiments/flickr/flickr_cgan_reconstruction.yaml --set encoders.backbone=$(BACKBONE)
	$(PY) -m multimodal.controls

FLICKR_CONFIG ?= experiments/flickr/flickr_cgan_reconstruction.yaml

flickr-cgan:
	$(FLICKR) --config $(FLICKR_CONFIG) $(if $(SEEDS),--seeds $(SEEDS))

flickr-smoke:
	$(PY) -m pytest -q tests/test_multimodal_pipeline.py

flickr-report:
	for d in paper_settings matching diverse reconstruction controls/no_d auxiliary; do $(PY) -m multimodal.report --results results/flickr/$$d || exit 1; done
	$(PY) -m multimodal.controls

flickr-summary:
	$(PY) -m multimodal.summary results/flickr/paper_settings results/flickr/matching results/flickr/diverse results/flickr/reconstruction results/flickr/auxiliary --out results/flickr/summary.md

sweep:
	$(PY) -m $(if $(findstring flickr,$(SPACE)),multimodal,unimodal).sweep --space $(SPACE) $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

bench:
	$(PY) -m benchmarks.run

clean-runs:
	rm -rf runs
