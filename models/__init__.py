"""Encoder, training data and evaluation (workstation only; the speaker never imports this)."""
