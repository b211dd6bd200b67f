"""One module per e-reader or service format beyond Kindle's own; `detect.py` holds the
single table that recognises them from their content."""
