"""Staff and pilot operations behind the `jamsosbot` commands: member import, payments, export, erasure,
demo data, key rotation."""
