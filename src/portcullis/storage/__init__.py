"""SQL lives here: the tables, the stores behind the core's ports, and migrations."""
