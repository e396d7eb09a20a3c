"""Replay of recorded media, evaluation and benchmarks, without hardware."""
