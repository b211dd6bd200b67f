"""The sentences a page shows for what a parse met but did not understand."""

from __future__ import annotations

from clippost.clippings import Problem, ProblemKind, parse, summarise
from clippost.clippings.problems import left_out


def _problem(kind: ProblemKind) -> Problem:
    return Problem(1, 2, "reason", kind)


class TestSummarise:
    def test_one_sentence_per_kind_in_a_fixed_order(self) -> None:
        """Left-out entries come first; each kind is counted in one sentence."""
        problems = [_problem(ProblemKind.DATE)] * 3 + [_problem(ProblemKind.UNREADABLE)]
        assert [(s.kind, s.count, s.sentence) for s in summarise(problems)] == [
            (ProblemKind.UNREADABLE, 1, "1 entry could not be read; it was left out"),
            (
                ProblemKind.DATE,
                3,
                "3 entries had a date we could not read; they were imported without one",
            ),
        ]

    def test_every_kind_has_a_sentence(self) -> None:
        """No kind of problem is left without words for the page."""
        assert len(summarise([_problem(kind) for kind in ProblemKind])) == len(ProblemKind)

    def test_nothing_to_say(self) -> None:
        """A clean parse has no summary."""
        assert summarise([]) == []

    def test_left_out_counts_only_lost_entries(self) -> None:
        """Gaps in imported entries are not entries left out."""
        assert left_out([_problem(ProblemKind.DATE), _problem(ProblemKind.UNREADABLE)]) == 1

    def test_from_a_real_parse(self) -> None:
        """A file with an unreadable date summarises as the sign-up page would say it."""
        data = b"T (A)\n- Your Highlight | Added on someday\n\nx\n==========\n"
        (summary,) = summarise(parse(data).problems)
        assert summary.sentence == (
            "1 entry had a date we could not read; it was imported without one"
        )
