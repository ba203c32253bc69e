"""Keeping storage tidy and checked: garbage collection and the health check."""
