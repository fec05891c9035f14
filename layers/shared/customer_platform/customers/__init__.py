"""Customers: one model, one set of routes and rules, two storage engines behind a protocol."""
