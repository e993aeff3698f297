"""The CRM pages: /contacts (list, search, filters, sortable columns, bulk actions),
/contacts/{id} (details, inline edit, tags, notes, timeline), import (upload + progress bar
+ error report) and export, segments with live counts; and the public double opt-in page
/confirm/{token}.

Thin like routes.py: read the form, call the service, redirect with a flash after a
successful POST or re-render with the service's messages.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.core.errors import AppError, NotFound, ValidationFailed
from chalicelib.crm import imports, inbound, service, store

bp = Blueprint(__name__)
FORM = [web.FORM_TYPE]
PAGE_SIZE = 50
LIST_KEYS = ("q", "tag", "status", "source", "segment_id", "sort")
IMPORT_PAGE_PATH = "/contacts/import"
web.body_limit(IMPORT_PAGE_PATH, imports.MAX_BYTES + 1024)


def _split_tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").replace(";", ",").split(",") if t.strip()]


def _fields_text(fields: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in fields.items())


def _parse_fields(raw: str | None) -> dict[str, str] | str:
    """'key: value' lines as a dict, or the message for the first line without a colon."""
    out: dict[str, str] = {}
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            return f"Line {number}: write each field as name: value."
        out[key.strip()] = value.strip()
    return out


# ---- the list -----------------------------------------------------------------------------------


def _list_query() -> dict[str, str]:
    q = web.query(web.request())
    return {k: q[k].strip() for k in LIST_KEYS if q.get(k, "").strip()}


@bp.route("/contacts", methods=["GET"])
@auth.page
def contacts() -> Response:
    user = auth.current().user
    query = _list_query()
    cursor = web.query(web.request()).get("cursor") or None
    errors: dict[str, list[str]] = {}
    try:
        rows, next_cursor = service.list_contacts(user, query, PAGE_SIZE, cursor)
    except (ValidationFailed, NotFound) as exc:
        errors = exc.fields if isinstance(exc, ValidationFailed) and exc.fields else {"_form": [exc.message]}
        rows, next_cursor = service.list_contacts(user, {}, PAGE_SIZE, None)
        query = {}
    base = "/contacts?" + urlencode(query) if query else "/contacts"
    return web.render(
        "pages/crm/index.html",
        title="Contacts",
        contacts=rows,
        next_cursor=next_cursor,
        query=query,
        base_url=base,
        sort=query.get("sort", "-created"),
        sort_links=_sort_links(query),
        export_url="/contacts/export"
        + ("?" + urlencode({k: v for k, v in query.items() if k != "sort"}) if query else ""),
        tags=service.tag_counts(user),
        segments=service.list_segments(user, 100, None)[0],
        statuses=service.STATUSES,
        sources=service.SOURCES,
        quota=service.quota_summary(user),
        filtered=bool(set(query) - {"sort"}),
        errors=errors,
        has_any=store.count_contacts(user.id) > 0,
    )


def _sort_links(query: dict[str, str]) -> dict[str, str]:
    """Per column (email, name, created): the list URL sorting by it, flipping the current order."""
    current = query.get("sort", "-created")
    rest = {k: v for k, v in query.items() if k != "sort"}
    targets = {
        "email": "-email" if current == "email" else "email",
        "name": "-name" if current == "name" else "name",
        "created": "created" if current == "-created" else "-created",
    }
    return {column: "/contacts?" + urlencode({**rest, "sort": target}) for column, target in targets.items()}


@bp.route("/contacts/new", methods=["GET"])
@auth.page
def new_contact() -> Response:
    return _new_page()


def _new_page(
    status: int = 200, errors: dict[str, Any] | None = None, values: dict[str, str] | None = None
) -> Response:
    user = auth.current().user
    return web.render(
        "pages/crm/new.html",
        status_code=status,
        title="Add a contact",
        errors=errors or {},
        values=values or {},
        quota=service.quota_summary(user),
    )


@bp.route("/contacts", methods=["POST"], content_types=FORM)
@auth.page
def create_contact() -> Response:
    user = auth.current().user
    form = web.form(web.request())
    data: dict[str, Any] = {"email": form.get("email", ""), "tags": _split_tags(form.get("tags"))}
    for key in ("name", "phone"):
        if form.get(key, "").strip():
            data[key] = form[key]
    try:
        contact = service.create_contact(user, data, source="manual")
    except ValidationFailed as exc:
        return _new_page(422, exc.fields, form)
    except AppError as exc:
        if exc.status >= 500:
            raise
        return _new_page(exc.status, {"_form": [exc.message]}, form)
    web.flash("success", f"{contact['email']} was added.")
    return web.redirect(f"/contacts/{contact['id']}")


@bp.route("/contacts/bulk", methods=["POST"], content_types=FORM)
@auth.page
def bulk() -> Response:
    user = auth.current().user
    request = web.request()
    form = web.form(request)
    action = form.get("action", "")
    ids = [int(v) for v in web.form_values(request, "ids") if v.isascii() and v.isdigit() and len(v) < 19][:500]
    tag = service.clean_tag(form.get("tag", ""))
    back = form.get("back", "")
    back = back if back.startswith("/contacts") and "//" not in back else "/contacts"
    if not ids:
        web.flash("error", "Select at least one contact first.")
    elif action in ("add_tag", "remove_tag") and not tag:
        web.flash("error", "Type the tag to add or remove.")
    elif action not in ("add_tag", "remove_tag", "delete"):
        web.flash("error", "Choose what to do with the selected contacts.")
    else:
        done = service.bulk(user, action, ids, tag)
        verb = {"add_tag": f"Tagged “{tag}”", "remove_tag": f"Removed “{tag}” from", "delete": "Deleted"}[action]
        web.flash("success", f"{verb} {done} contact{'s' if done != 1 else ''}.")
    return web.redirect(back)


# ---- one contact ------------------------------------------------------------------------------------


def _contact_page(contact_id: int, status: int = 200, errors: dict[str, Any] | None = None,
                  values: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = auth.current().user
    contact = service.get_contact(user.id, contact_id)
    cursor = web.query(web.request()).get("cursor") or None
    try:
        activities, next_cursor = service.list_activities(user, contact_id, 30, cursor)
    except ValidationFailed:
        activities, next_cursor = service.list_activities(user, contact_id, 30, None)
    row = store.get_contact(user.id, contact_id) or {}
    defaults = {
        "email": contact["email"],
        "name": contact["name"] or "",
        "phone": contact["phone"] or "",
        "status": contact["status"],
        "tags": ", ".join(contact["tags"]),
        "fields": _fields_text(contact["fields"]),
    }
    return web.render(
        "pages/crm/contact.html",
        status_code=status,
        title=contact["name"] or contact["email"],
        contact=contact,
        consent={"at": row.get("consent_at"), "method": row.get("consent_method"), "page": row.get("consent_page")},
        activities=activities,
        next_cursor=next_cursor,
        errors=errors or {},
        values={**defaults, **(values or {})},
        editable_status=contact["status"] in ("subscribed", "unsubscribed", "pending"),
    )


@bp.route("/contacts/{contact_id}", methods=["GET"])
@auth.page
def contact_page(contact_id: str) -> Response:
    return _contact_page(web.path_id(contact_id, "contact"))


@bp.route("/contacts/{contact_id}", methods=["POST"], content_types=FORM)
@auth.page
def update_contact(contact_id: str) -> Response:
    user = auth.current().user
    cid = web.path_id(contact_id, "contact")
    service.get_contact(user.id, cid)  # 404 before anything else
    form = web.form(web.request())
    fields = _parse_fields(form.get("fields"))
    if isinstance(fields, str):
        return _contact_page(cid, 422, {"fields": [fields]}, form)
    data: dict[str, Any] = {
        "email": form.get("email", ""),
        "name": form.get("name") or None,
        "phone": form.get("phone") or None,
        "tags": _split_tags(form.get("tags")),
        "fields": fields,
    }
    if form.get("status") in ("subscribed", "unsubscribed"):
        data["status"] = form["status"]
    try:
        service.update_contact(user, cid, data)
    except ValidationFailed as exc:
        return _contact_page(cid, 422, exc.fields, form)
    except AppError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _contact_page(cid, exc.status, {"_form": [exc.message]}, form)
    web.flash("success", "Saved.")
    return web.redirect(f"/contacts/{cid}")


@bp.route("/contacts/{contact_id}/notes", methods=["POST"], content_types=FORM)
@auth.page
def add_note(contact_id: str) -> Response:
    user = auth.current().user
    cid = web.path_id(contact_id, "contact")
    form = web.form(web.request())
    try:
        service.add_note(user, cid, {"body": form.get("body", "")})
    except ValidationFailed as exc:
        return _contact_page(cid, 422, {"body": exc.fields.get("body", ["Write something first."])}, form)
    web.flash("success", "Note added.")
    return web.redirect(f"/contacts/{cid}")


@bp.route("/contacts/{contact_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_contact(contact_id: str) -> Response:
    user = auth.current().user
    cid = web.path_id(contact_id, "contact")
    email = service.get_contact(user.id, cid)["email"]
    service.delete_contact(user, cid)
    web.flash("success", f"{email} and everything about them was deleted.")
    return web.redirect("/contacts")


@bp.route("/contacts/{contact_id}/export", methods=["GET"])
@auth.page
def export_contact(contact_id: str) -> Response:
    data = service.personal_data(auth.current().user, web.path_id(contact_id, "contact"))
    return Response(
        body=json.dumps(data, indent=2, ensure_ascii=False),
        status_code=200,
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="contact-{data["contact"]["id"]}.json"'},
    )  # fmt: skip


# ---- import and export ------------------------------------------------------------------------------


@bp.route("/contacts/import", methods=["GET"])
@auth.page
def import_page() -> Response:
    user = auth.current().user
    return web.render(
        "pages/crm/import.html",
        title="Import contacts",
        recent=imports.recent_imports(user, 10),
        quota=service.quota_summary(user),
        max_mb=imports.MAX_BYTES // (1024 * 1024),
    )


@bp.route(IMPORT_PAGE_PATH, methods=["POST"], content_types=["text/csv", "text/plain", "application/octet-stream"])
@auth.page
def start_import() -> Response:
    """The import page's upload (fetch with the CSRF header): JSON, for its script."""
    user = auth.current().user
    request = web.request()
    name = web.query(request).get("name")
    try:
        started = imports.start(user, request.raw_body or b"", name)
    except AppError as exc:
        if exc.status >= 500:
            raise
        return web.json_response(exc.body(), status=exc.status)
    return web.json_response({"id": started["id"], "url": f"/contacts/imports/{started['id']}"}, status=202)


@bp.route("/contacts/imports/{import_id}", methods=["GET"])
@auth.page
def import_status_page(import_id: str) -> Response:
    imp = imports.get_import(auth.current().user, web.path_id(import_id, "import"))
    return web.render("pages/crm/import_status.html", title=f"Import #{imp['id']}", imp=imp)


@bp.route("/contacts/imports/{import_id}/progress", methods=["GET"])
@auth.page
def import_progress(import_id: str) -> Response:
    return web.json_response(imports.get_import(auth.current().user, web.path_id(import_id, "import")))


@bp.route("/contacts/export", methods=["GET"])
@auth.page
def export_contacts() -> Response:
    user = auth.current().user
    body = "".join(service.export_csv(user, _list_query()))
    return Response(body=body, status_code=200, headers={"Content-Type": "text/csv; charset=utf-8",
                                                          "Content-Disposition": 'attachment; filename="contacts.csv"'})  # fmt: skip


# ---- segments ----------------------------------------------------------------------------------------


def _segment_data(form: dict[str, Any]) -> dict[str, Any]:
    """The segment form (or its live preview's JSON) as the service's input."""
    text = {k: v.strip() if isinstance(v, str) else "" for k, v in form.items()}
    flt: dict[str, Any] = {}
    for key in ("tags_any", "tags_all"):
        tags = _split_tags(text.get(key))
        if tags:
            flt[key] = tags
    for key in ("status", "source", "created_after", "created_before"):
        if text.get(key):
            flt[key] = text[key]
    return {"name": text.get("name", ""), "filter": flt}


def _segments_page(
    status: int = 200, errors: dict[str, Any] | None = None, values: dict[str, str] | None = None
) -> Response:
    user = auth.current().user
    segments, _next = service.list_segments(user, 100, None)
    return web.render(
        "pages/crm/segments.html",
        status_code=status,
        title="Segments",
        segments=segments,
        total=store.count_contacts(user.id),
        statuses=service.STATUSES,
        sources=service.SOURCES,
        tags=service.tag_counts(user),
        errors=errors or {},
        values=values or {},
    )


@bp.route("/contacts/segments", methods=["GET"])
@auth.page
def segments() -> Response:
    return _segments_page()


@bp.route("/contacts/segments", methods=["POST"], content_types=FORM)
@auth.page
def create_segment() -> Response:
    form = web.form(web.request())
    try:
        seg = service.create_segment(auth.current().user, _segment_data(form))
    except ValidationFailed as exc:
        errors = {k.removeprefix("filter."): v for k, v in exc.fields.items()}
        return _segments_page(422, errors, form)
    web.flash("success", f"Segment “{seg['name']}” saved: {seg['contacts']:,} contacts match it now.")
    return web.redirect("/contacts/segments")


@bp.route("/contacts/segments/preview", methods=["POST"], content_types=["application/json"])
@auth.page
def preview_segment() -> Response:
    """The segment form's live count (JSON, for its script)."""
    data = web.json_body(web.request())
    try:
        count = service.segment_preview(auth.current().user, _segment_data(data)["filter"])
    except ValidationFailed as exc:
        return web.json_response(exc.body(), status=422)
    return web.json_response({"contacts": count})


@bp.route("/contacts/segments/{segment_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_segment(segment_id: str) -> Response:
    user = auth.current().user
    sid = web.path_id(segment_id, "segment")
    name = service.get_segment(user.id, sid)["name"]
    service.delete_segment(user, sid)
    web.flash("success", f"Segment “{name}” deleted. Its contacts stay.")
    return web.redirect("/contacts/segments")


# ---- double opt-in (public) ------------------------------------------------------------------------


@bp.route("/confirm/{token}", methods=["GET"])
@auth.public
def confirm(token: str) -> Response:
    try:
        outcome = inbound.confirm(token)
    except NotFound:
        return web.render("pages/crm/confirm.html", status_code=404, outcome="invalid", title="Confirm subscription")
    status = 410 if outcome == "expired" else 200
    return web.render("pages/crm/confirm.html", status_code=status, outcome=outcome, title="Confirm subscription")
