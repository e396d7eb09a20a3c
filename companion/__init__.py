"""The `companion` command and what every part shares outside the protocol:
configuration and the checked loading of bundled model files."""
