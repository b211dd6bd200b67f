"""The metadata grammar: every date and head variant devices write, one fixture each, and
hypothesis recombining the parts of each language's line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clippost.clippings.kindle_dates import DateReader, read_day, read_tail
from clippost.clippings.kindle_txt import parse_kindle_txt
from clippost.clippings.models import Kind, ProblemKind, RawEntry

H, N, B = Kind.HIGHLIGHT, Kind.NOTE, Kind.BOOKMARK


def _entry(meta: str, *, today: date | None = None) -> tuple[RawEntry, list[ProblemKind]]:
    entries, problems = parse_kindle_txt(
        f"Book (Author)\n{meta}\n\ntext\n==========\n", today=today
    )
    (entry,) = entries
    return entry, [p.kind for p in problems]


def _date(added: str) -> datetime | None:
    return DateReader().read(added)[0]


class TestDateVariants:
    """Each form of date a device writes is read to the same local time."""

    @pytest.mark.parametrize(
        ("added", "expected"),
        [
            # English: US and international, old firmware, zones, two-digit years.
            ("Added on Monday, July 31, 2017 11:11:20 PM", datetime(2017, 7, 31, 23, 11, 20)),
            ("Added on Thursday, May 05, 2011, 07:52 AM", datetime(2011, 5, 5, 7, 52)),
            ("Added on Friday, 1 September 2021 22:50:00", datetime(2021, 9, 1, 22, 50)),
            ("Added on Friday, 6 July 12 07:37:42 GMT+01:00", datetime(2012, 7, 6, 7, 37, 42)),
            ("Added on Sunday, 9 June 13 22:05:51 GMT+00:00", datetime(2013, 6, 9, 22, 5, 51)),
            ("Added on Saturday, 26 March 2016 11:37:26 p. m.", datetime(2016, 3, 26, 23, 37, 26)),
            ("Added on Monday, December 01, 2023 9:02:48 PM", datetime(2023, 12, 1, 21, 2, 48)),
            ("Added on July 31, 2017 12:05:00 AM", datetime(2017, 7, 31, 0, 5)),
            ("Added on Tuesday, 3 May 2011 18:26:12 BST", datetime(2011, 5, 3, 18, 26, 12)),
            ("Added on 12/15/2017 21:31", datetime(2017, 12, 15, 21, 31)),
            # German: "um ... Uhr", a zone name in German.
            (
                "Hinzugefügt am Freitag, 26. April 2013 um 00:49:32 Uhr",
                datetime(2013, 4, 26, 0, 49, 32),
            ),
            (
                "Hinzugefügt am Samstag, 14. April 12 12:42:39 Mitteleuropäische Sommerzeit",
                datetime(2012, 4, 14, 12, 42, 39),
            ),
            ("Hinzugefügt am Montag, 5. Juni 2014 19:34:00 MESZ", datetime(2014, 6, 5, 19, 34)),
            # French: "à", a day written "1er".
            ("Ajouté le vendredi 26 avril 2013 à 00:18:27", datetime(2013, 4, 26, 0, 18, 27)),
            ("Ajouté le jeudi 1er décembre 2011 à 21:05", datetime(2011, 12, 1, 21, 5)),
            (
                "Ajouté le samedi 21 juillet 12 à 15:22:12 heure d’été d’Europe centrale",
                datetime(2012, 7, 21, 15, 22, 12),
            ),
            # Spanish: Spain, the older "17H36'" notation with a zone, Latin-American 12-hour.
            (
                "Añadido el viernes 26 de abril de 2013, 0:04:34",
                datetime(2013, 4, 26, 0, 4, 34),
            ),
            (
                "Añadido el lunes 1 de octubre de 2012 17H36' GMT+01:59",
                datetime(2012, 10, 1, 17, 36),
            ),
            ("Añadido el sábado 25 de junio de 2011 01H43' GMT", datetime(2011, 6, 25, 1, 43)),
            (
                "Añadido el sábado, 17 de diciembre de 2022 2:30:30 p. m.",
                datetime(2022, 12, 17, 14, 30, 30),
            ),
            (
                "Añadido el martes, 5 de marzo de 2019 11:45:02 a. m.",
                datetime(2019, 3, 5, 11, 45, 2),
            ),
            (
                "Añadido el martes, 5 de marzo de 2019 12:15:02 a.\u00a0m.",
                datetime(2019, 3, 5, 0, 15, 2),
            ),
            (
                "Agregado el domingo, 1 de enero de 2023 3:29:48 p.m.",
                datetime(2023, 1, 1, 15, 29, 48),
            ),
            # Italian: two-digit year followed by a comma.
            (
                "Aggiunto il venerdì 6 aprile 12, 00:25:08",
                datetime(2012, 4, 6, 0, 25, 8),
            ),
            (
                "Aggiunto in data martedì 24 gennaio 2023 01:21:28",
                datetime(2023, 1, 24, 1, 21, 28),
            ),
            # Portuguese, Dutch.
            (
                "Adicionado na data segunda-feira, 17 de junho de 2013, 20:39:30",
                datetime(2013, 6, 17, 20, 39, 30),
            ),
            (
                "Adicionado: quinta-feira, 12 de outubro de 2023 14:39:03",
                datetime(2023, 10, 12, 14, 39, 3),
            ),
            ("Toegevoegd op zaterdag 6 augustus 2022 18:30:18", datetime(2022, 8, 6, 18, 30, 18)),
            # Japanese: 24-hour, 午前/午後, a weekday in brackets, kanji time units.
            ("作成日: 2019年10月12日土曜日 14:27:10", datetime(2019, 10, 12, 14, 27, 10)),
            ("追加日： 2013年6月17日 (月曜日) 20:31:09", datetime(2013, 6, 17, 20, 31, 9)),
            ("作成日: 2019年10月12日土曜日 午後2:30:00", datetime(2019, 10, 12, 14, 30)),
            ("作成日: 2015年1月14日 水曜日 午前0時39分10秒", datetime(2015, 1, 14, 0, 39, 10)),
            # Chinese: 上午/下午 (12 上午 is just after midnight), traditional words.
            ("添加于 2014年6月9日星期一 下午8:54:02", datetime(2014, 6, 9, 20, 54, 2)),
            ("添加于 2014年8月11日星期一 上午12:41:49", datetime(2014, 8, 11, 0, 41, 49)),
            ("已添加至 2013年6月17日 星期一 22:27:30", datetime(2013, 6, 17, 22, 27, 30)),
            ("新增於 2019年10月12日 星期六 下午 2:27:10", datetime(2019, 10, 12, 14, 27, 10)),
            # Russian.
            (
                "Добавлено: воскресенье, 3 августа 2025 г. в 15:22:20",
                datetime(2025, 8, 3, 15, 22, 20),
            ),
        ],
    )
    def test_reads(self, added: str, expected: datetime) -> None:
        """The date is the local time as written, on a 24-hour clock, any zone ignored."""
        assert _date(added) == expected

    @pytest.mark.parametrize(
        "added",
        [
            "Added on someday",
            "Added on Friday, 6 July 12 07:37:42 nachm.",  # an unknown word after the time
            "Added on Friday, 6 July 2012 07:37:42 1234",
            "Added on Friday, 31 February 2012 07:37:42",
            "Added on Friday, 6 Juli 2012 25:37:42",
            "Added on 6 July 07:37:42",  # no year
            "Added on 2012 6 July 17 07:37:42",  # three numbers beside a month
        ],
    )
    def test_refuses_rather_than_guesses(self, added: str) -> None:
        """What the grammar cannot account for gives no date (and the parser reports it)."""
        assert _date(added) is None


class TestDateProblems:
    """A date present but not understood, or impossible, is a problem on its line."""

    def test_unknown_word_after_time_is_reported(self) -> None:
        """An unrecognised word after the time is reported, never read as a 24-hour time."""
        entry, problems = _entry("- Your Highlight | Added on Friday, 6 July 2012 07:37 nachm.")
        assert (entry.added_at, problems) == (None, [ProblemKind.DATE])

    def test_date_before_kindles_existed(self) -> None:
        """A date before 2007 (a reset clock) is reported and left out."""
        entry, problems = _entry("- Your Highlight | Added on Thursday, 1 January 1970 00:00:00")
        assert (entry.added_at, problems) == (None, [ProblemKind.IMPLAUSIBLE_DATE])

    def test_date_after_tomorrow(self) -> None:
        """A date after tomorrow (given today) is reported and left out; tomorrow is fine."""
        today = date(2024, 3, 1)
        late, problems = _entry("- Your Note | Added on Sunday, 3 March 2024 10:00:00", today=today)
        assert (late.added_at, problems) == (None, [ProblemKind.IMPLAUSIBLE_DATE])
        fine, problems = _entry(
            "- Your Note | Added on Saturday, 2 March 2024 23:59:00", today=today
        )
        assert (fine.added_at, problems) == (datetime(2024, 3, 2, 23, 59), [])

    def test_no_date_at_all_is_no_problem(self) -> None:
        """A line without any date (KOReader, some apps) is not a gap."""
        entry, problems = _entry("- Your Highlight on page 3 | Location 45-46")
        assert (entry.added_at, entry.page, entry.location_start, problems) == (None, "3", 45, [])


class TestHeadVariants:
    """Kind, page and location in each language's wording and spacing."""

    @pytest.mark.parametrize(
        ("meta", "expected"),
        [
            ("- Your Highlight on page 3 | Location 45-46 |", (H, "3", 45, 46)),
            ("- Highlight Loc. 1134-37  |", (H, None, 1134, 1137)),
            ("- Your highlight on page 40 |", (H, "40", None, None)),  # KOReader
            ("- Ihre Markierung Position 14-14 |", (H, None, 14, 14)),
            ("- Ihr Lesezeichen auf Seite 222 | Position 3393 |", (B, "222", 3393, 3393)),
            ("- Votre note sur la page 222 | Emplacement 3394 |", (N, "222", 3394, 3394)),
            ("- Votre surlignement à lʼemplacement 393-393 |", (H, None, 393, 393)),
            ("- Mi nota Posición 6 |", (N, None, 6, 6)),
            ("- Subrayado Pos. 1234-35 |", (H, None, 1234, 1235)),
            ("- Tu resaltado en la página 10 | Ubicación 150-160 |", (H, "10", 150, 160)),
            ("- Mi subrayado en la página 41 | Posición 620 - 620 |", (H, "41", 620, 620)),
            ("- Le mie note a pagina 222 | Posizione 3395 |", (N, "222", 3395, 3395)),
            ("- Seu marcador de página na página 222 | Posição 3393 |", (B, "222", 3393, 3393)),
            ("- Je highlight op locatie 150 t/m 151 |", (H, None, 150, 151)),
            ("- 12ページ|位置No. 180-181のハイライト |", (H, "12", 180, 181)),
            ("- 12 ページ|位置No.180-181 のハイライト |", (H, "12", 180, 181)),
            ("- ハイライト ページ222 | 位置No. 3396-3396 |", (H, "222", 3396, 3396)),
            ("- メモ 位置 No. 3 |", (N, None, 3, 3)),
            ("- 位置番号 200のブックマーク |", (B, None, 200, 200)),
            ("- 您在第 4 页（位置 #69-70）的标注 |", (H, "4", 69, 70)),
            ("- 我的标注 第222页 | 位置3397-3397 |", (H, "222", 3397, 3397)),
            ("- 您在位置 #207 的笔记 |", (N, None, 207, 207)),
            ("– Ваша заметка на странице 868 | Место 8411 |", (N, "868", 8411, 8411)),
        ],
    )
    def test_reads(self, meta: str, expected: tuple[Kind, str | None, int, int]) -> None:
        """Each head gives its kind, page and location, and nothing left unexplained."""
        entry, problems = _entry(meta + " Added on Friday, 1 September 2021 22:50:00")
        assert (entry.kind, entry.page, entry.location_start, entry.location_end) == expected
        assert problems == []

    def test_number_not_understood_is_reported(self) -> None:
        """A number the head grammar cannot place is a location problem, with the text."""
        entries, problems = parse_kindle_txt(
            "B (A)\n- Your Highlight at spot 12 | Added on Friday, 1 September 2021 22:50:00"
            "\n\nx\n==========\n"
        )
        assert entries[0].location_start is None
        assert [(p.kind, p.line, p.text) for p in problems] == [
            (ProblemKind.LOCATION, 2, "Your Highlight at spot 12")
        ]

    def test_page_word_without_number_is_reported(self) -> None:
        """A page word with no page after it is a page problem."""
        _, problems = _entry("- Your Note on page ? | Added on Friday, 1 September 2021 22:50:00")
        assert problems == [ProblemKind.PAGE]

    def test_language_of_the_line(self) -> None:
        """The device language is the one whose date words the line uses."""
        entry, _ = _entry(
            "- Ihre Notiz Position 9 | Hinzugefügt am Donnerstag, 25. April 2013 23:40:04"
        )
        assert entry.language == "de"


# --- recombination ---------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int

    @property
    def value(self) -> datetime:
        return datetime(self.year, self.month, self.day, self.hour, self.minute, self.second)


moments = st.builds(
    Moment,
    year=st.integers(2007, 2030),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    second=st.integers(0, 59),
)

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": (
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    ),
    "it": (
        "gennaio febbraio marzo aprile maggio giugno "
        "luglio agosto settembre ottobre novembre dicembre"
    ),
    "pt": (
        "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro"
    ),
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
}
WEEKDAYS = {
    "en": "Monday,",
    "de": "Montag,",
    "fr": "lundi",
    "es": "lunes,",
    "it": "lunedì",
    "pt": "segunda-feira,",
    "nl": "maandag",
    "ru": "понедельник,",
    "ja": "月曜日",
    "zh": "星期一",
}
ADDED = {
    "en": "Added on",
    "de": "Hinzugefügt am",
    "fr": "Ajouté le",
    "es": "Añadido el",
    "it": "Aggiunto il",
    "pt": "Adicionado:",
    "nl": "Toegevoegd op",
    "ru": "Добавлено:",
    "ja": "作成日:",
    "zh": "添加于",
}
ZONES = ["", " GMT+01:00", " GMT-05:00", " UTC", " (GMT+02:00)", " CEST"]
ZONE_NAMES = {
    "de": " Mitteleuropäische Zeit",
    "fr": " heure normale d’Europe centrale",
    "es": " Hora de verano romance",
    "en": " British Summer Time",
    "ru": " Московское время",
}


@st.composite
def written_dates(draw: st.DrawFn) -> tuple[str, datetime]:
    """A date line in a random language, with every optional part drawn independently."""
    lang = draw(st.sampled_from(sorted(ADDED)))
    when = draw(moments)
    weekday = WEEKDAYS[lang] + " " if draw(st.booleans()) else ""
    year = str(when.year) if draw(st.booleans()) else f"{when.year % 100:02d}"
    seconds = f":{when.second:02d}" if draw(st.booleans()) else ""
    second = when.second if seconds else 0
    twelve = draw(st.booleans())
    if lang in ("ja", "zh"):
        day = f"{when.year}年{when.month}月{when.day}日{weekday.strip()}"
        if twelve:
            half = ("午前", "午後") if lang == "ja" else ("上午", "下午")
            clock = f"{half[when.hour >= 12]}{when.hour % 12 or 12}:{when.minute:02d}{seconds}"
        else:
            clock = f"{when.hour}:{when.minute:02d}{seconds}"
        text = f"{ADDED[lang]} {day} {clock}"
    else:
        month = MONTHS[lang].split()[when.month - 1]
        day = _day_words(lang, when.day, month, year)
        comma = "," if draw(st.booleans()) else ""
        clock = _clock(draw, lang, when, seconds, twelve)
        zone = draw(st.sampled_from([*ZONES, ZONE_NAMES.get(lang, "")]))
        text = f"{ADDED[lang]} {weekday}{day}{comma} {clock}{zone}"
    moment = datetime(when.year, when.month, when.day, when.hour, when.minute, second)
    return text, moment


def _day_words(lang: str, day: int, month: str, year: str) -> str:
    forms = {
        "en": f"{month} {day}, {year}",
        "de": f"{day}. {month} {year}",
        "es": f"{day} de {month} de {year}",
        "pt": f"{day} de {month} de {year}",
        "ru": f"{day} {month} {year} г. в",
    }
    return forms.get(lang, f"{day} {month} {year}")


def _clock(draw: st.DrawFn, lang: str, when: Moment, seconds: str, twelve: bool) -> str:
    if twelve:
        marker = draw(st.sampled_from(["AM", "a.m.", "a. m.", "a.\u00a0m."]))
        if when.hour >= 12:
            marker = marker.replace("A", "P").replace("a", "p")
        return f"{when.hour % 12 or 12}:{when.minute:02d}{seconds} {marker}"
    if lang == "es" and not seconds and draw(st.booleans()):
        return f"{when.hour:02d}H{when.minute:02d}'"
    suffix = " Uhr" if lang == "de" and draw(st.booleans()) else ""
    return f"{when.hour:02d}:{when.minute:02d}{seconds}{suffix}"


GRAMMAR = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestRecombination:
    """Any combination of a language's parts reads back to the moment it was built from."""

    @GRAMMAR
    @given(written_dates())
    def test_every_combination_reads(self, case: tuple[str, datetime]) -> None:
        """Weekday, comma, 2- or 4-digit year, seconds, 12/24-hour clock and zone vary."""
        text, moment = case
        assert _date(text) == moment

    @GRAMMAR
    @given(written_dates())
    def test_fast_path_agrees_with_the_grammar(self, case: tuple[str, datetime]) -> None:
        """The memoised fast path gives what the general grammar gives, on every line."""
        text, _ = case
        reader = DateReader()
        assert reader.read(text) == reader._general(text)

    @GRAMMAR
    @given(written_dates(), st.sampled_from(["nachm.", "hrs", "Uhrzeit 5", "12", "o'clock"]))
    def test_unknown_words_after_the_time_are_refused(
        self, case: tuple[str, datetime], junk: str
    ) -> None:
        """A word after the time the grammar does not know makes the date unreadable.

        (After a zone *name*, further words are taken as part of the name: a marker such as
        "p. m." is never written after a zone.)"""
        text, _ = case
        assume(not any(name and text.endswith(name) for name in ZONE_NAMES.values()))
        assert _date(f"{text} {junk}") is None

    @GRAMMAR
    @given(written_dates())
    def test_whole_line_through_the_parser(self, case: tuple[str, datetime]) -> None:
        """The date inside a full metadata line gives the entry's time and no problem."""
        text, moment = case
        entry, problems = _entry(f"- Your Highlight on page 3 | Location 10-12 | {text}")
        assert (entry.added_at, problems) == (moment, [])


class TestTailAndDay:
    """The two halves of the date grammar, on their own."""

    def test_tail_markers(self) -> None:
        """After the time: AM/PM in every spelling, "Uhr", zones; anything else refused."""
        assert [read_tail(t) for t in (" PM", " p. m.", " a.m.", " Uhr", " GMT+01:00", "")] == [
            2,
            2,
            1,
            0,
            0,
            0,
        ]
        assert read_tail(" nachm.") is None

    def test_day_in_numbers_follows_the_language(self) -> None:
        """A numeric day is month first in English, day first elsewhere."""
        us, german = read_day("Added on 03/04/2015 "), read_day("Hinzugefügt am 03.04.2015 ")
        assert (us and (us.month, us.day), german and (german.month, german.day)) == (
            (3, 4),
            (4, 3),
        )
