"""Perceived emotion from walking video: the CLI and the stages glued together."""
__version__ = "0.1.0"
