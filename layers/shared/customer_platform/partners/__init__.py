"""Scheduled partner sync: fetch the partner's customer feed, queue it, upsert it into MySQL."""
