"""Checks: pure functions from message bytes and key answers to typed results."""
