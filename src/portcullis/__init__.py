"""Portcullis: accounts and sessions for research data portals."""

__version__ = "0.1.0"
