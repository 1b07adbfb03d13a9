"""The domain: accounts, sessions, passwords and one-time keys. No HTTP, no SQL."""
