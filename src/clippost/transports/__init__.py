"""Transports: how a rendered Message reaches a mailbox (SMTP, an email API, a folder).

`transports.factory` builds the configured one from Settings; `transports.base` holds the
Protocol every transport implements.
"""
