"""The CRM JSON API (API.md "CRM"): contacts, their timeline and notes, tags, segments,
CSV import and export."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.crm import imports, service

bp = Blueprint(__name__)


@bp.route("/api/contacts", methods=["GET"])
@auth.api("contacts:read")
def list_contacts() -> Response:
    request = web.request()
    limit, cursor = web.page_params(request)
    contacts, next_cursor = service.list_contacts(auth.current().user, web.query(request), limit, cursor)
    return web.list_response(contacts, next_cursor)


@bp.route("/api/contacts", methods=["POST"])
@auth.api("contacts:write")
def create_contact() -> Response:
    contact = service.create_contact(auth.current().user, web.json_body(web.request()), source="api")
    return web.json_response(contact, status=201)


@bp.route("/api/contacts/{contact_id}", methods=["GET"])
@auth.api("contacts:read")
def get_contact(contact_id: str) -> Response:
    return web.json_response(service.get_contact(auth.current().user.id, web.path_id(contact_id, "contact")))


@bp.route("/api/contacts/{contact_id}", methods=["PATCH"])
@auth.api("contacts:write")
def update_contact(contact_id: str) -> Response:
    user = auth.current().user
    contact = service.update_contact(user, web.path_id(contact_id, "contact"), web.json_body(web.request()))
    return web.json_response(contact)


@bp.route("/api/contacts/{contact_id}", methods=["DELETE"])
@auth.api("contacts:write")
def delete_contact(contact_id: str) -> Response:
    service.delete_contact(auth.current().user, web.path_id(contact_id, "contact"))
    return web.no_content()


@bp.route("/api/contacts/{contact_id}/activities", methods=["GET"])
@auth.api("contacts:read")
def list_activities(contact_id: str) -> Response:
    limit, cursor = web.page_params(web.request())
    items, next_cursor = service.list_activities(auth.current().user, web.path_id(contact_id, "contact"), limit, cursor)
    return web.list_response(items, next_cursor)


@bp.route("/api/contacts/{contact_id}/notes", methods=["POST"])
@auth.api("contacts:write")
def add_note(contact_id: str) -> Response:
    user = auth.current().user
    activity = service.add_note(user, web.path_id(contact_id, "contact"), web.json_body(web.request()))
    return web.json_response(activity, status=201)


@bp.route("/api/tags", methods=["GET"])
@auth.api("contacts:read")
def list_tags() -> Response:
    return web.json_response({"data": service.tag_counts(auth.current().user)})


@bp.route("/api/segments", methods=["GET"])
@auth.api("contacts:read")
def list_segments() -> Response:
    limit, cursor = web.page_params(web.request())
    items, next_cursor = service.list_segments(auth.current().user, limit, cursor)
    return web.list_response(items, next_cursor)


@bp.route("/api/segments", methods=["POST"])
@auth.api("contacts:write")
def create_segment() -> Response:
    return web.json_response(service.create_segment(auth.current().user, web.json_body(web.request())), status=201)


@bp.route("/api/segments/{segment_id}", methods=["GET"])
@auth.api("contacts:read")
def get_segment(segment_id: str) -> Response:
    user = auth.current().user
    return web.json_response(service.segment_json(service.get_segment(user.id, web.path_id(segment_id, "segment"))))


@bp.route("/api/segments/{segment_id}", methods=["PATCH"])
@auth.api("contacts:write")
def update_segment(segment_id: str) -> Response:
    user = auth.current().user
    segment = service.update_segment(user, web.path_id(segment_id, "segment"), web.json_body(web.request()))
    return web.json_response(segment)


@bp.route("/api/segments/{segment_id}", methods=["DELETE"])
@auth.api("contacts:write")
def delete_segment(segment_id: str) -> Response:
    service.delete_segment(auth.current().user, web.path_id(segment_id, "segment"))
    return web.no_content()


IMPORT_PATH = "/api/contacts/import"
web.body_limit(IMPORT_PATH, imports.MAX_BYTES + 1024)


@bp.route(IMPORT_PATH, methods=["POST"], content_types=["text/csv", "text/plain", "application/octet-stream"])
@auth.api("contacts:write")
def start_import() -> Response:
    request = web.request()
    return web.json_response(imports.start(auth.current().user, request.raw_body or b""), status=202)


@bp.route("/api/contacts/imports/{import_id}", methods=["GET"])
@auth.api("contacts:read")
def get_import(import_id: str) -> Response:
    return web.json_response(imports.get_import(auth.current().user, web.path_id(import_id, "import")))


@bp.route("/api/contacts/export", methods=["GET"])
@auth.api("contacts:read")
def export_contacts() -> Response:
    # Lambda answers with one body: it is built batch by batch (keyset), never from the
    # whole table at once.
    body = "".join(service.export_csv(auth.current().user, web.query(web.request())))
    return Response(body=body, status_code=200, headers={"Content-Type": "text/csv; charset=utf-8",
                                                          "Content-Disposition": 'attachment; filename="contacts.csv"'})  # fmt: skip


@bp.route("/api/contacts/{contact_id}/export", methods=["GET"])
@auth.api("contacts:read")
def export_contact(contact_id: str) -> Response:
    data = service.personal_data(auth.current().user, web.path_id(contact_id, "contact"))
    return web.json_response(data)
