"""Campaign bodies: Markdown to inlined, responsive HTML and text; the sandbox refuses
everything but the contact's fields; user HTML is escaped."""

from __future__ import annotations

import pytest

from chalicelib.email import render


def _render(body: str, contact: dict | None = None, subject: str = "Hi") -> tuple[str, str, str]:
    compiled = render.compile_campaign(subject=subject, body_markdown=body)
    return render.personalise(compiled, contact or {"name": "Ada Lovelace", "email": "ada@example.com"},
                              unsubscribe_url="https://u.test/x", open_url="https://o.test/y", click_urls=None,
                              from_name="Ada's shop", postal_address="1 Road, Lisbon")  # fmt: skip


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__dict__ }}",
        "{{ contact.items() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self }}",
        "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
        "{{ 'a' * 1000000000 }}",
        "{{ contact.name | attr('__class__') }}",
        "{% macro m() %}{% endmacro %}",
        "{% include 'emails/verify.html' %}",
        "{{ contact.name",
    ],
)
def test_the_sandbox_refuses_anything_but_contact_fields(source: str) -> None:
    with pytest.raises(render.TemplateProblem):
        render.check_template(source)


def test_personalisation_reads_the_contacts_fields_with_defaults() -> None:
    body = 'Hi {{ contact.first_name | default("there") }} from {{ contact.fields.city | default("?") }}'
    render.check_template(body)
    _, html, text = _render(body, {"name": "Grace Hopper", "email": "g@example.com", "fields": {"city": "Arlington"}})
    assert "Hi Grace from Arlington" in html and "Hi Grace from Arlington" in text
    _, html, _ = _render(body, {"name": "", "email": "x@example.com"})
    assert "Hi there from ?" in html


def test_user_html_in_markdown_and_in_contact_values_is_escaped() -> None:
    body = "<script>alert(1)</script> <img src=x onerror=alert(2)> {{ contact.name }}"
    _, html, _ = _render(body, {"name": "<b onclick=x>Eve</b>", "email": "e@example.com"})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    assert "<b onclick" not in html and "&lt;b onclick=x&gt;Eve&lt;/b&gt;" in html


def test_the_owners_texts_are_values_never_template_source() -> None:
    compiled = render.compile_campaign(subject="Hi", body_markdown="Hello")
    _, html, text = render.personalise(compiled, {"name": "A"}, unsubscribe_url="#", open_url=None, click_urls=None,
                                       from_name="{{ 7 * 7 }}", postal_address="{% if 1 %}yes{% endif %}",
                                       preheader="{{ contact }}")  # fmt: skip
    assert "{{ 7 * 7 }}" in html and "49" not in html and "{% if 1 %}yes{% endif %}" in text


def test_html_is_responsive_with_css_inlined_and_a_footer() -> None:
    _, html, text = _render("# Title\n\nA [link](https://example.com/a?b=1&c=2).")
    assert 'style="' in html and "@media only screen and (max-width: 620px)" in html
    assert "1 Road, Lisbon" in html and 'href="https://u.test/x"' in html and 'src="https://o.test/y"' in html
    assert "Unsubscribe: https://u.test/x" in text and "link (https://example.com/a?b=1&c=2)" in text


def test_links_are_listed_once_and_rewritten_per_recipient() -> None:
    compiled = render.compile_campaign(
        subject="s",
        body_markdown="[a](https://a.example/) [b](https://b.example/x) [a again](https://a.example/) "
        "[mine](https://p.example/{{ contact.email }}) [raw]({{ contact.fields.url }})",
    )
    assert compiled.links == ("https://a.example/", "https://b.example/x")
    _, html, _ = render.personalise(compiled, {"name": "A", "email": "a@x.test", "fields": {"url": "javascript:alert(1)"}},
                                    unsubscribe_url="#", open_url=None, click_urls=["https://t/0", "https://t/1"],
                                    from_name="", postal_address="")  # fmt: skip
    assert html.count('href="https://t/0"') == 2 and html.count('href="https://t/1"') == 1
    assert 'href="https://p.example/a@x.test"' in html  # personalised links are not tracked
    assert "javascript:" not in html
