"""Bounces and complaints: provider webhooks and a bounce mailbox, turned into delivery
events, kept with their outbox rows, and the suppressions they call for."""
