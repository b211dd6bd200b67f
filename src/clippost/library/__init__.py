"""Library: a reader's books and highlights, merged by content identity."""
