"""Every Kindle device language's words for `My Clippings.txt`, as data.

A metadata line reads, in each language, "- <kind> <page/location> | <added> <date>".
The parser never branches on a language: it assembles its regular expressions from the
tables below, so a new device language (or an old firmware's wording) is a new
`DeviceLanguage` entry, not new code. Words are matched case-insensitively.

Dates are read from numbers, a month name (or CJK year/month/day order when there is
none) and an AM/PM word; weekday names are deliberately not needed, so a weekday spelled
in an unexpected way never makes a date unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clippost.clippings.models import Kind

H, N, B, C = Kind.HIGHLIGHT, Kind.NOTE, Kind.BOOKMARK, Kind.CLIP


@dataclass(frozen=True, slots=True)
class DeviceLanguage:
    """One device language's wording; every field is matched case-insensitively."""

    code: str
    kinds: Mapping[str, Kind]  # the word naming the kind of entry
    page_before: tuple[str, ...] = ()  # "page 12": the word comes before the number
    page_after: tuple[str, ...] = ()  # "12ページ", "第 12 页": the word comes after it
    location: tuple[str, ...] = ()  # "Location 12-14": always before the number
    added: tuple[str, ...] = ()  # the words that introduce the date
    months: Mapping[str, int] = field(default_factory=dict)
    am_after: tuple[str, ...] = ()  # "9:02 AM": the marker follows the time
    pm_after: tuple[str, ...] = ()
    am_before: tuple[str, ...] = ()  # "上午7:34": the marker precedes the time
    pm_before: tuple[str, ...] = ()
    limit_words: tuple[str, ...] = ()  # words of the "<clipping limit reached>" placeholder


def _months(*names: str) -> dict[str, int]:
    """Map "a|b|c" alternatives of each month, January first, to the month number."""
    return {alias: number for number, alts in enumerate(names, 1) for alias in alts.split("|")}


LANGUAGES: tuple[DeviceLanguage, ...] = (
    DeviceLanguage(
        code="en",
        # Old firmware writes "Highlight Loc. 12-14", "Bookmark Page 9", "Clip This Article";
        # some editions write "Your Underline" for a highlight.
        kinds={
            "highlight": H,
            "underline": H,
            "note": N,
            "bookmark": B,
            "clip this article": C,
            "clip": C,
        },
        page_before=("page",),
        location=("location", "loc."),
        added=("added on",),
        months=_months(
            "january|jan",
            "february|feb",
            "march|mar",
            "april|apr",
            "may",
            "june|jun",
            "july|jul",
            "august|aug",
            "september|sept|sep",
            "october|oct",
            "november|nov",
            "december|dec",
        ),
        am_after=("am", "a.m."),
        pm_after=("pm", "p.m."),
        limit_words=("clipping limit",),
    ),
    DeviceLanguage(
        code="de",
        # "Artikel bei Position 699 speichern" is a clipped article.
        kinds={"markierung": H, "notiz": N, "lesezeichen": B, "artikel": C},
        page_before=("seite",),
        location=("position",),
        added=("hinzugefügt am",),
        months=_months(
            "januar|jänner",
            "februar",
            "märz",
            "april",
            "mai",
            "juni",
            "juli",
            "august",
            "september",
            "oktober",
            "november",
            "dezember",
        ),
        limit_words=("grenze", "limit"),
    ),
    DeviceLanguage(
        code="fr",
        # "à lʼemplacement" is written with U+02BC; "emplacement" alone matches every apostrophe.
        kinds={"surlignement": H, "note": N, "signet": B, "article": C},
        page_before=("page",),
        location=("emplacement",),
        added=("ajouté le",),
        months=_months(
            "janvier",
            "février|fevrier",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août|aout",
            "septembre",
            "octobre",
            "novembre",
            "décembre|decembre",
        ),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="es",
        # "La/Tu/Mi subrayado", "Tu resaltado", "Mi/El marcador", old "Subrayado Pos. 12-14";
        # some firmware writes the English "Location" inside Spanish lines (covered by en).
        kinds={"subrayado": H, "resaltado": H, "nota": N, "marcador": B, "recorte": C},
        page_before=("página", "pagina"),
        location=("posición", "posicion", "pos."),
        added=("añadido el",),
        months=_months(
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre|setiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
        limit_words=("límite", "limite"),
    ),
    DeviceLanguage(
        code="it",
        kinds={"evidenziazione": H, "nota": N, "segnalibro": B},
        page_before=("pagina",),
        location=("posizione",),
        added=("aggiunto in data", "aggiunto il"),
        months=_months(
            "gennaio",
            "febbraio",
            "marzo",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "agosto",
            "settembre",
            "ottobre",
            "novembre",
            "dicembre",
        ),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="pt",
        kinds={"destaque": H, "nota": N, "marcador": B},
        page_before=("página", "pagina"),
        location=("posição", "posicao"),
        added=("adicionado:", "adicionado em"),
        months=_months(
            "janeiro",
            "fevereiro",
            "março|marco",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="nl",
        kinds={"highlight": H, "markering": H, "notitie": N, "bladwijzer": B},
        page_before=("pagina",),
        location=("locatie",),
        added=("toegevoegd op",),
        months=_months(
            "januari",
            "februari",
            "maart",
            "april",
            "mei",
            "juni",
            "juli",
            "augustus",
            "september",
            "oktober",
            "november",
            "december",
        ),
        limit_words=("limiet",),
    ),
    DeviceLanguage(
        code="ja",
        # "- 12ページ|位置No. 180-181のハイライト |作成日: 2019年10月12日土曜日 14:27:10".
        # One real file spells the page word "page" after the number ("6page|...").
        kinds={"ハイライト": H, "メモ": N, "ブックマーク": B, "クリップ": C},
        page_after=("ページ", "page"),
        location=("位置no.",),
        added=("作成日:", "作成日："),
        am_before=("午前",),
        pm_before=("午後",),
        limit_words=("上限",),
    ),
    DeviceLanguage(
        code="zh",
        # "您在第 4 页（位置 #69-70）的标注", "您在第 8-8 页的标注", "您在位置 #207 的笔记".
        kinds={"标注": H, "笔记": N, "书签": B, "剪贴": C, "標註": H, "筆記": N, "書籤": B},
        page_after=("页", "頁"),
        location=("位置",),
        added=("添加于", "新增於"),
        am_before=("上午", "凌晨", "早上"),
        pm_before=("下午", "中午", "晚上"),
        limit_words=("上限", "限制"),
    ),
    DeviceLanguage(
        code="ru",
        # The line starts with an EN DASH and ranges use one too: "Место 183–184".
        kinds={"выделенный отрывок": H, "выделение": H, "заметка": N, "закладка": B},
        page_before=("странице", "страница", "стр."),
        location=("месте", "место", "мест."),
        added=("добавлено:",),
        months=_months(
            "января|январь",
            "февраля|февраль",
            "марта|март",
            "апреля|апрель",
            "мая|май",
            "июня|июнь",
            "июля|июль",
            "августа|август",
            "сентября|сентябрь",
            "октября|октябрь",
            "ноября|ноябрь",
            "декабря|декабрь",
        ),
        limit_words=("лимит", "предел"),
    ),
)

# Written between the two numbers of a range ("12-14", "183–184", "293 t/m 294").
RANGE_SEPARATORS: tuple[str, ...] = ("-", "–", "—", "~", "～", "〜", "t/m")

# Characters a metadata line starts with ("- ", "-  ", "– ").
METADATA_DASHES = "-–—"

# Between entries, on a line of its own.
SEPARATOR = "=========="
