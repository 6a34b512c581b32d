"""reminders domain: the daily discoverer of stalled runs and the reminder policy."""
