"""Reliability and security suites: faults, crashes, hostile input, secrets."""
