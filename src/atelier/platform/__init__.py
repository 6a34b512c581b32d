"""Cross-cutting infrastructure: settings, database, errors, auth, outbox, clock."""
