"""The manage page's reading options: which passages first (the age bias) and on this day."""

from __future__ import annotations

import re


def _preferences_section(html: str) -> str:
    return html.split('id="preferences"', 1)[1].split('id="books"', 1)[0]


class TestReadingOptions:
    async def test_form_shows_both_options_labelled(self, web):
        """The select and the checkbox are labelled, the bias explained by a hint."""
        await web.confirmed_reader()
        page = await web.client.get(await web.manage_link())
        section = _preferences_section(page.text)
        assert '<label for="age_bias">Which passages first</label>' in section
        assert 'aria-describedby="age-bias-hint"' in section
        for value, text in (
            ("none", "Any age"),
            ("recent", "More recent ones"),
            ("older", "Older ones"),
        ):
            assert re.search(rf'<option value="{value}"[^>]*>{text}</option>', section)
        assert re.search(r'<option value="none" selected>Any age</option>', section)
        assert '<label for="on_this_day">On this day: when I highlighted something' in section
        assert not re.search(r'id="on_this_day"[^>]*checked', section)

    async def test_saves_recent_bias(self, web):
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {**web.default_preferences(), "age_bias": "recent"}
        response = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert response.status_code == 303
        subscriber = await web.subscriber("reader@example.org")
        assert (subscriber.age_bias, subscriber.on_this_day) == ("recent", False)
        # Another bias changes every stride: the rotation is laid out again.
        assert subscriber.rotation_stale
        page = await web.client.get(link)
        assert re.search(
            r'<option value="recent" selected>More recent ones</option>',
            _preferences_section(page.text),
        )

    async def test_saves_older_bias(self, web):
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {**web.default_preferences(), "age_bias": "older"}
        await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert (await web.subscriber("reader@example.org")).age_bias == "older"

    async def test_saves_on_this_day_and_unticking_clears_it(self, web):
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {**web.default_preferences(), "on_this_day": "yes"}
        await web.post_form(f"{link}/preferences", form, csrf_from=link)
        subscriber = await web.subscriber("reader@example.org")
        assert (subscriber.on_this_day, subscriber.age_bias) == (True, "none")
        page = await web.client.get(link)
        assert re.search(r'id="on_this_day"[^>]*checked', _preferences_section(page.text))
        # An unticked box is absent from the form: the option goes off again.
        plain = {k: v for k, v in web.default_preferences().items() if k != "on_this_day"}
        await web.post_form(f"{link}/preferences", plain, csrf_from=link)
        assert (await web.subscriber("reader@example.org")).on_this_day is False

    async def test_bad_bias_is_refused_beside_its_field(self, web):
        """An unknown bias is a 400 with its sentence beside the select; nothing is saved."""
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {
            **web.default_preferences(),
            "age_bias": "newest",
            "per_email": "9",
            "on_this_day": "yes",
        }
        response = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert response.status_code == 400
        section = _preferences_section(response.text)
        assert re.search(
            r'<p class="field-error" id="age_bias-error">.*Which passages first must be one of',
            section,
        )
        assert re.search(r'id="age_bias"[^>]*aria-invalid="true"', section)
        subscriber = await web.subscriber("reader@example.org")
        assert (subscriber.age_bias, subscriber.per_email, subscriber.on_this_day) == (
            "none",
            3,
            False,
        )
