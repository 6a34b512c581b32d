"""Web foundation shared by the admin app and the partner portal."""
