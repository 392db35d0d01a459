"""Cycle-Instruct: seed-free instruction tuning data by dual self-training and cycle consistency."""

__version__ = "0.1.0"
