"""A Kindle title line split into the book's title and its author."""

from __future__ import annotations


def split_title_author(title_line: str) -> tuple[str, str | None]:
    """("Foo (Bar)", "Smith, John") from "Foo (Bar) (Smith, John)": the author is the last
    balanced parenthesised group that ends the line; without one the author is None."""
    if not title_line.endswith(")"):
        return title_line, None
    depth = 0
    for i in range(len(title_line) - 1, -1, -1):
        char = title_line[i]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                title, author = title_line[:i].rstrip(), title_line[i + 1 : -1].strip()
                if not title or not author:
                    return title_line, None
                return title, author
    return title_line, None
