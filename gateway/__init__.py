"""Signalling, sessions and the data channel between edge clients and the cloud."""
