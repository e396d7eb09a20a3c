"""Reasoner backends (bundled Qwen, OpenAI-compatible), modes, prompt caches, interruption."""
