"""Helpers that start real servers (localstripe, PostgreSQL) for the tests."""
