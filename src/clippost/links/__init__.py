"""Links: every URL clippost puts in a page or an email, and the signed tokens they carry.

`tokens` signs and reads purpose-scoped tokens (pure); `urls.Links` builds and reads the
URLs with the site's keys and link lifetimes.
"""

from clippost.links.tokens import Purpose, TokenData
from clippost.links.urls import Links

__all__ = ["Links", "Purpose", "TokenData"]
