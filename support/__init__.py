"""Helpers shared by tests/ and bench/: finding ../shared and running a real server process."""
