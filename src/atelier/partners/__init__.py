"""partners domain."""
