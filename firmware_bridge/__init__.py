"""Glasses hardware protocols and transports."""
