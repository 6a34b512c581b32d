"""API-driven test data builders shared by every domain's tests."""
