"""The lean runtime that ships to the speaker: front end, encoder runtime, search, CLI."""

__version__ = "0.1.0"
