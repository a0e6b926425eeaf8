"""Workstation tool: a folder of songs -> one verified, versioned ``.humbundle`` for speakers."""

__version__ = "0.1.0"
