"""Test helpers: backing services, a real server process, request factories."""
