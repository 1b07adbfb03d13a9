"""The HTTP dialects: each a thin adapter that maps the core to its own wire format."""
