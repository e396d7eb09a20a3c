"""Gateways and cloud workers as separate processes, joined by Redis.

Each question is one self-contained, signed turn on a Redis Stream (the
session's settings and the turn's own messages), so any worker can answer
it; answers and notifications come back on a stream per gateway. See
`gateway_link.py` (the gateway's side), `worker.py` (the worker's side) and
`envelope.py` (what travels, and how it is signed).
"""
