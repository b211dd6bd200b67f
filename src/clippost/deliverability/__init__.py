"""Sender setup: the DNS records a sending domain publishes (SPF, DKIM, DMARC), and a check
of what is published against what clippost is configured to send."""
