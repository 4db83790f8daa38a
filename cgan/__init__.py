"""Shared core of the CGAN reproduction: layers, schedules, training loop, checkpoints, configs."""
