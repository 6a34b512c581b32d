"""Admin and partner sign-in."""
