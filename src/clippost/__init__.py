"""clippost: your Kindle highlights as a personal newsletter."""

__version__ = "0.1.0"
