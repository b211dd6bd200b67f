"""Rendering: email templates and fast, safe MIME."""
