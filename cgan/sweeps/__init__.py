"""Hyper-parameter sweeps on Optuna: the search space, the study and its report. A pipeline passes
its own SweepTarget (how to load and train one of its configs) to ``cgan.sweeps.study.main``."""
