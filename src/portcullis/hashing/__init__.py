"""Password schemes other services left behind, verified once and then replaced by argon2id.

The argon2id pool itself is still ``core/passwords.py`` (with ``hash_service.py`` and
``hash_slots.py`` beside it): moving it here would touch every module other branches are
changing now, so this room holds only what an import brings, for now.
"""
