"""What the ``portcullis`` command says: problems in plain words, lists as tables or JSON."""
