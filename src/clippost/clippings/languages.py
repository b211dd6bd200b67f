"""Every Kindle device language's words for `My Clippings.txt`, as data.

A metadata line reads, in each language, "- <kind> <page/location> | <added> <date>".
The parser never branches on a language: it assembles its grammar from the tables below,
so a new device language (or an old firmware's wording) is a new `DeviceLanguage` entry or
a new word, not new code. Words are matched case-insensitively; a space inside a page or
location word matches any spacing, none included ("位置 no." reads "位置No.1234").

Dates are read from numbers, a month name (or CJK year/month/day order, or a numeric date
in the language's order when there is none) and an AM/PM word; weekday names are
deliberately not needed, so a weekday spelled in an unexpected way never makes a date
unreadable. What devices write after the time (seconds, "Uhr", "p. m.", a zone such as
"GMT+01:00" or "Mitteleuropäische Sommerzeit") is recognised word by word, and a date with
anything else after its time is reported, never guessed.
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
    page_before: tuple[str, ...] = ()  # "page 12", "ページ222": the word before the number
    page_after: tuple[str, ...] = ()  # "12ページ", "第 12 页": the word after it
    location: tuple[str, ...] = ()  # "Location 12-14": always before the number
    added: tuple[str, ...] = ()  # the words that introduce the date
    months: Mapping[str, int] = field(default_factory=dict)
    numeric_order: str = "dmy"  # how a date written in numbers only is ordered
    am_before: tuple[str, ...] = ()  # "上午7:34": the marker precedes the time
    pm_before: tuple[str, ...] = ()
    time_words: tuple[str, ...] = ()  # written after the time: "um 00:49:32 Uhr"
    zone_words: tuple[str, ...] = ()  # word endings that make a zone name: "…zeit"
    limit_words: tuple[str, ...] = ()  # words of the "<clipping limit reached>" placeholder


def _months(*names: str) -> dict[str, int]:
    """Map "a|b|c" alternatives of each month, January first, to the month number."""
    return {alias: number for number, alts in enumerate(names, 1) for alias in alts.split("|")}


LANGUAGES: tuple[DeviceLanguage, ...] = (
    DeviceLanguage(
        code="en",
        # Old firmware writes "Highlight Loc. 12-14", "Bookmark Page 9", "Clip This Article";
        # some editions write "Your Underline" for a highlight; KOReader's imitation writes
        # "Your highlight on page 40".
        kinds={
            "highlight": H,
            "underline": H,
            "note": N,
            "bookmark": B,
            "clip this article": C,
            "clip": C,
        },
        page_before=("page",),
        location=("location no.", "location", "loc."),
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
        numeric_order="mdy",
        zone_words=("time", "standard", "daylight", "summer"),
        limit_words=("clipping limit",),
    ),
    DeviceLanguage(
        code="de",
        # "Artikel bei Position 699 speichern" is a clipped article; 2013 firmware writes
        # "Ihre Markierung Position 14-14 | Hinzugefügt am Freitag, 26. April 2013 um
        # 00:49:32 Uhr".
        kinds={"markierung": H, "notiz": N, "lesezeichen": B, "artikel": C},
        page_before=("seite",),
        location=("position", "pos."),
        added=("hinzugefügt am",),
        months=_months(
            "januar|jänner|jan",
            "februar|feb",
            "märz|mär|maerz",
            "april|apr",
            "mai",
            "juni|jun",
            "juli|jul",
            "august|aug",
            "september|sep|sept",
            "oktober|okt",
            "november|nov",
            "dezember|dez",
        ),
        time_words=("uhr",),
        zone_words=("zeit",),
        limit_words=("grenze", "limit"),
    ),
    DeviceLanguage(
        code="fr",
        # "à lʼemplacement" is written with U+02BC; "emplacement" alone matches every
        # apostrophe. 2013 firmware: "Votre surlignement Emplacement 12-12 | Ajouté le
        # vendredi 26 avril 2013 à 00:18:27".
        kinds={
            "surlignement": H,
            "note": N,
            "remarque": N,
            "signet": B,
            "marque-page": B,
            "article": C,
        },
        page_before=("page",),
        location=("emplacement",),
        added=("ajouté le",),
        months=_months(
            "janvier|janv",
            "février|fevrier|févr|fevr",
            "mars",
            "avril|avr",
            "mai",
            "juin",
            "juillet|juil",
            "août|aout",
            "septembre|sept",
            "octobre|oct",
            "novembre|nov",
            "décembre|decembre|déc|dec",
        ),
        time_words=("h",),
        zone_words=("heure", "été", "hiver"),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="es",
        # "La/Tu/Mi subrayado", "Tu resaltado", "Mi/El marcador", old "Subrayado Pos. 12-14";
        # some firmware writes the English "Location" inside Spanish lines (covered by en).
        # Old firmware writes the time as "17H36'" and a zone ("GMT+01:00"); Latin-American
        # devices a 12-hour clock ("2:30:30 p. m.").
        kinds={"subrayado": H, "resaltado": H, "nota": N, "marcador": B, "recorte": C},
        page_before=("página", "pagina", "pág.", "pag."),
        location=("posición", "posicion", "pos.", "ubicación", "ubicacion"),
        added=("añadido el", "agregado el"),
        months=_months(
            "enero|ene",
            "febrero|feb",
            "marzo|mar",
            "abril|abr",
            "mayo|may",
            "junio|jun",
            "julio|jul",
            "agosto|ago",
            "septiembre|setiembre|sept|sep|set",
            "octubre|oct",
            "noviembre|nov",
            "diciembre|dic",
        ),
        zone_words=("hora", "horario", "verano", "invierno"),
        limit_words=("límite", "limite"),
    ),
    DeviceLanguage(
        code="it",
        # 2012 firmware: "La mia evidenziazione Posizione 22-22 | Aggiunto il venerdì 6 aprile
        # 12, 00:25:08" (a two-digit year), "Le mie note a pagina 222", "Il mio segnalibro".
        kinds={"evidenziazione": H, "nota": N, "segnalibro": B},
        page_before=("pagina", "pag."),
        location=("posizione", "pos."),
        added=("aggiunto in data", "aggiunto il"),
        months=_months(
            "gennaio|gen",
            "febbraio|feb",
            "marzo|mar",
            "aprile|apr",
            "maggio|mag",
            "giugno|giu",
            "luglio|lug",
            "agosto|ago",
            "settembre|set",
            "ottobre|ott",
            "novembre|nov",
            "dicembre|dic",
        ),
        zone_words=("ora", "legale", "solare"),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="pt",
        # "Seu marcador de página na página 222" names the kind with the page word in it;
        # 2013 firmware writes "Adicionado na data segunda-feira, 17 de junho de 2013, 20:39:30".
        kinds={"destaque": H, "nota": N, "marcador de página": B, "marcador": B},
        page_before=("página", "pagina"),
        location=("posição", "posicao"),
        added=("adicionado na data", "adicionado:", "adicionado em"),
        months=_months(
            "janeiro|jan",
            "fevereiro|fev",
            "março|marco|mar",
            "abril|abr",
            "maio|mai",
            "junho|jun",
            "julho|jul",
            "agosto|ago",
            "setembro|set",
            "outubro|out",
            "novembro|nov",
            "dezembro|dez",
        ),
        zone_words=("hora", "horário", "horario", "verão", "verao"),
        limit_words=("limite",),
    ),
    DeviceLanguage(
        code="nl",
        kinds={"highlight": H, "markering": H, "notitie": N, "bladwijzer": B},
        page_before=("pagina",),
        location=("locatie",),
        added=("toegevoegd op",),
        months=_months(
            "januari|jan",
            "februari|feb",
            "maart|mrt",
            "april|apr",
            "mei",
            "juni|jun",
            "juli|jul",
            "augustus|aug",
            "september|sep|sept",
            "oktober|okt",
            "november|nov",
            "december|dec",
        ),
        time_words=("uur",),
        zone_words=("tijd",),
        limit_words=("limiet",),
    ),
    DeviceLanguage(
        code="ja",
        # "- 12ページ|位置No. 180-181のハイライト |作成日: 2019年10月12日土曜日 14:27:10";
        # 2013 firmware: "- ハイライト ページ222 | 位置No. 3396-3396 | 追加日： 2013年6月17日
        # (月曜日) 20:31:09". One real file spells the page word "page" after the number.
        kinds={"ハイライト": H, "メモ": N, "ブックマーク": B, "クリップ": C},
        page_before=("ページ",),
        page_after=("ページ", "page", "頁"),
        location=("位置 no.", "位置 番号", "位置"),
        added=("作成日:", "作成日：", "追加日:", "追加日：", "作成日", "追加日"),
        numeric_order="ymd",
        am_before=("午前",),
        pm_before=("午後",),
        zone_words=("時間", "標準時", "夏時間"),
        limit_words=("上限",),
    ),
    DeviceLanguage(
        code="zh",
        # "您在第 4 页（位置 #69-70）的标注", "您在第 8-8 页的标注", "您在位置 #207 的笔记";
        # 2013 firmware: "我的标注 第222页 | 位置3397-3397 | 已添加至 2013年6月17日 星期一
        # 22:27:30"; Traditional Chinese devices write 頁, 標註, 劃線, 新增於.
        kinds={
            "标注": H,
            "标记": H,
            "划线": H,
            "標註": H,
            "畫線": H,
            "劃線": H,
            "笔记": N,
            "筆記": N,
            "备注": N,
            "附註": N,
            "书签": B,
            "書籤": B,
            "剪贴": C,
        },
        page_after=("页", "頁"),
        location=("位置",),
        added=("添加于", "已添加至", "新增於", "已新增至", "加入於"),
        numeric_order="ymd",
        am_before=("上午", "凌晨", "早上", "清晨"),
        pm_before=("下午", "中午", "晚上", "傍晚"),
        zone_words=("时间", "時間", "标准时", "標準時", "夏令时"),
        limit_words=("上限", "限制"),
    ),
    DeviceLanguage(
        code="ru",
        # The line starts with an EN DASH and ranges use one too: "Место 183–184".
        kinds={"выделенный отрывок": H, "выделение": H, "заметка": N, "закладка": B},
        page_before=("странице", "страница", "стр."),
        location=("месте", "место", "мест.", "позиция", "позиции"),
        added=("добавлено:", "добавлено"),
        months=_months(
            "января|январь|янв",
            "февраля|февраль|фев",
            "марта|март|мар",
            "апреля|апрель|апр",
            "мая|май",
            "июня|июнь|июн",
            "июля|июль|июл",
            "августа|август|авг",
            "сентября|сентябрь|сен|сент",
            "октября|октябрь|окт",
            "ноября|ноябрь|ноя",
            "декабря|декабрь|дек",
        ),
        zone_words=("время",),
        limit_words=("лимит", "предел"),
    ),
)

# Written between the two numbers of a range ("12-14", "183–184", "293 t/m 294").
RANGE_SEPARATORS: tuple[str, ...] = ("-", "–", "—", "~", "～", "〜", "t/m")

# Characters a metadata line starts with ("- ", "-  ", "– ").
METADATA_DASHES = "-–—"

# Between entries, on a line of its own.
SEPARATOR = "=========="

# A zone written after the time and ignored ("GMT+01:00", "UTC", "(GMT-05:00)"): these
# words and an offset; an all-capitals abbreviation ("CEST", "MESZ") is one too.
ZONE_PREFIXES: tuple[str, ...] = ("gmt", "utc", "ut")
