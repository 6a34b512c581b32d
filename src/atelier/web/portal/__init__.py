"""The partner portal at ``/portal``: phone-first pages in English and Hindi."""
