"""How the parts run together: the in-process stack on loopback and the adapters between parts."""
