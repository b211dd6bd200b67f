"""natural_authors: stored author fields as a reader says them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.rendering.authors import natural_author, natural_authors


class TestNaturalAuthors:
    @pytest.mark.parametrize(
        ("raw", "names"),
        [
            ("Attia MD, Peter", ("Peter Attia",)),
            ("Tolkien, J. R. R.", ("J. R. R. Tolkien",)),
            ("Le Guin, Ursula K.", ("Ursula K. Le Guin",)),
            ("García Márquez, Gabriel", ("Gabriel García Márquez",)),
            ("Толстой, Лев Николаевич", ("Лев Николаевич Толстой",)),
        ],
    )
    def test_surname_first_is_turned_round(self, raw: str, names: tuple[str, ...]) -> None:
        """ "Surname, Given" becomes "Given Surname", degrees dropped."""
        assert natural_authors(raw) == names

    @pytest.mark.parametrize("raw", ["Peter Attia", "Peter Attia, MD", "Peter Attia PhD"])
    def test_natural_order_stays_and_degrees_go(self, raw: str) -> None:
        """A name already in natural order is kept, without its degrees."""
        assert natural_authors(raw) == ("Peter Attia",)

    @pytest.mark.parametrize(
        "raw",
        [
            "Levitt, Steven D.; Dubner, Stephen J.",
            "Levitt, Steven D., Dubner, Stephen J.",
            "Steven D. Levitt, Stephen J. Dubner",
            "Levitt, Steven D. & Dubner, Stephen J.",
        ],
    )
    def test_several_authors(self, raw: str) -> None:
        """Several authors, separated by ";", "&" or paired commas, each in natural order."""
        assert natural_authors(raw) == ("Steven D. Levitt", "Stephen J. Dubner")

    @pytest.mark.parametrize(
        "raw",
        ["King, Martin Luther, Jr.", "King Jr., Martin Luther", "Martin Luther King, Jr."],
    )
    def test_generational_suffix_is_kept_after_the_surname(self, raw: str) -> None:
        """Jr., Sr., II, III stay, after the surname."""
        assert natural_authors(raw) == ("Martin Luther King Jr.",)

    @pytest.mark.parametrize("raw", ["夏目 漱石", "村上, 春樹", "김영하", "鲁迅"])
    def test_cjk_names_are_left_as_they_are(self, raw: str) -> None:
        """Family name first is the natural order of a CJK name: nothing moves."""
        assert natural_authors(raw) == (raw,)

    @pytest.mark.parametrize("raw", [None, "", "   "])
    def test_no_author(self, raw: str | None) -> None:
        """No author gives no names."""
        assert natural_authors(raw) == ()

    def test_joined_form(self) -> None:
        """natural_author joins the names with commas (the locale-free form)."""
        assert natural_author("Levitt, Steven D.; Dubner, Stephen J.") == (
            "Steven D. Levitt, Stephen J. Dubner"
        )

    @given(raw=st.text(max_size=80))
    def test_any_field_gives_names_without_line_breaks(self, raw: str) -> None:
        """Whatever the field holds, the names are non-empty single lines."""
        names = natural_authors(raw)
        assert all(name and name == " ".join(name.split()) for name in names)
