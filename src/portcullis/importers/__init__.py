"""One module per service accounts are brought from, each turning its rows into
core.imports.ImportedAccount; ``sources`` opens the databases they read, ``cli`` runs them."""
