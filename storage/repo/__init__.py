"""Plain data-access functions the bot calls (consents, drafts, subscribers, events, erasure, staff).

Each takes a `storage.db.Database` and runs in its own transaction unless it says otherwise; personal
values go in and come out in clear, and are sealed/indexed here, never by the caller."""
