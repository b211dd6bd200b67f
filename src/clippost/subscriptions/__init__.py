"""Subscriptions: the reader lifecycle, signed links, rate limits."""
