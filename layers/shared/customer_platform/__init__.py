"""Shared code of the customer platform stack, shipped to every function in the shared layer."""
