"""Every page route, anonymous and from another commune: no page path goes around login or scoping.

The API has its own matrix (tests/api/test_auth_matrix.py); this is the pages' one. A new page route
fails ``test_every_page_route_is_listed`` until it is given an expectation here.
"""

from __future__ import annotations

import re

import httpx
import pytest

from broadcaster.web.routing import WebRoute
from tests.api.world import PASSWORD
from tests.web.world import WebWorld, form_token, http_login

PUBLIC = {("GET", "/dang-nhap"), ("POST", "/dang-nhap")}
# Routes that name a bulletin: another commune's user must get 404, exactly as from the API.
BULLETIN_ROUTES = {
    ("GET", "/ban-tin/{bulletin_id}"),
    ("GET", "/ban-tin/{bulletin_id}/sua"),
    ("POST", "/ban-tin/{bulletin_id}/sua"),
    ("GET", "/ban-tin/{bulletin_id}/nghe-thu"),
    ("POST", "/ban-tin/{bulletin_id}/gui-duyet"),
    ("POST", "/ban-tin/{bulletin_id}/huy"),
    ("POST", "/duyet-tin/{bulletin_id}/duyet"),
    ("POST", "/duyet-tin/{bulletin_id}/tu-choi"),
    ("POST", "/phat-khan-cap/{bulletin_id}/dung"),
}
# Routes that name another kind of object of commune A (a thôn, a cluster, an account, a session): an
# admin of another commune gets 404 too, and nothing changes.
OBJECT_ROUTES = {
    ("POST", "/thon/{zone_id}/doi-ten"),
    ("POST", "/thon/{zone_id}/xoa"),
    ("GET", "/cum-loa/{cluster_id}"),
    ("POST", "/cum-loa/{cluster_id}/sua"),
    ("POST", "/cum-loa/{cluster_id}/am-luong"),
    ("POST", "/cum-loa/{cluster_id}/ngung"),
    ("POST", "/cum-loa/{cluster_id}/phat-thu"),
    ("POST", "/cum-loa/{cluster_id}/cau-hinh"),
    ("GET", "/tai-khoan/{account_id}"),
    ("POST", "/tai-khoan/{account_id}/sua"),
    ("POST", "/tai-khoan/{account_id}/khoa"),
    ("POST", "/tai-khoan/{account_id}/mo-khoa"),
    ("POST", "/tai-khoan/{account_id}/dat-lai-mat-khau"),
    ("POST", "/phien/{token_id}/thu-hoi"),
}
# Commune pages and forms asked about commune A (``xa``): another commune's admin gets 404.
COMMUNE_ROUTES = {
    ("GET", "/cum-loa/quan-ly"), ("POST", "/thon/them"), ("POST", "/cum-loa/them"), ("GET", "/tai-khoan"),
    ("POST", "/tai-khoan/them"), ("GET", "/cum-loa"), ("GET", "/lich-phat"), ("GET", "/nhat-ky"),
    ("GET", "/soan-tin"), ("GET", "/phat-khan-cap"), ("GET", "/lich-phat/sua"), ("POST", "/lich-phat/sua"),
    ("GET", "/giong-doc"), ("POST", "/giong-doc"),
    ("GET", "/tu-dien"), ("POST", "/tu-dien/them"), ("POST", "/tu-dien/nghe-thu"), ("GET", "/tu-dien/xuat.tsv"),
    ("POST", "/tu-dien/nhap"), ("GET", "/tin-cap-tren"),
}
LOGIN_ONLY = {
    ("GET", "/"), ("POST", "/dang-xuat"), ("GET", "/soan-tin"), ("POST", "/soan-tin"),
    ("POST", "/soan-tin/uoc-luong"), ("POST", "/soan-tin/nghe-thu"), ("GET", "/nghe-thu/{name}"),
    ("GET", "/ban-tin"), ("GET", "/duyet-tin"), ("GET", "/phat-khan-cap"), ("POST", "/phat-khan-cap/xac-nhan"),
    ("POST", "/phat-khan-cap"), ("GET", "/cum-loa"), ("GET", "/cum-loa/bang"), ("GET", "/lich-phat"),
    ("GET", "/nhat-ky"), ("GET", "/nhat-ky.csv"), ("GET", "/doi-mat-khau"), ("POST", "/doi-mat-khau"),
    ("GET", "/toan-tinh"), ("POST", "/toan-tinh/them-xa"), ("GET", "/tin-tinh"), ("POST", "/tin-tinh"),
} | COMMUNE_ROUTES
# Routes that name a lexicon entry: another commune's user must get 404.
LEXICON_ENTRY_ROUTES = {
    ("GET", "/tu-dien/{entry_id}/sua"), ("POST", "/tu-dien/{entry_id}/sua"), ("POST", "/tu-dien/{entry_id}/xoa"),
    ("GET", "/tu-dien/{entry_id}/nghe-thu"),
}
# Routes that name a province bulletin: a commune it was not sent to gets 404, and nothing changes.
PROVINCE_BULLETIN_ROUTES = {
    ("GET", "/tin-tinh/{bulletin_id}"), ("POST", "/tin-tinh/{bulletin_id}/duyet"),
    ("POST", "/tin-tinh/{bulletin_id}/tu-choi"), ("POST", "/tin-cap-tren/{bulletin_id}/nhan"),
    ("POST", "/tin-cap-tren/{bulletin_id}/tu-choi"),
}
EXAMPLE_PARAMS = {"name": "0" * 64 + ".mp3", "entry_id": "1"}


def page_routes(web: WebWorld) -> set[tuple[str, str]]:
    from fastapi.routing import iter_route_contexts

    from broadcaster.app import create_app

    app = create_app(web.settings)  # built, not started: only its routes are read
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, WebRoute)
        for method in context.methods or ()
        if method != "HEAD"
    }


def test_every_page_route_is_listed(web: WebWorld) -> None:
    assert page_routes(web) == (PUBLIC | BULLETIN_ROUTES | OBJECT_ROUTES | LOGIN_ONLY | LEXICON_ENTRY_ROUTES
                                | PROVINCE_BULLETIN_ROUTES)


@pytest.fixture(scope="module")
def bulletin_of_a(web: WebWorld) -> int:
    created = web.api("POST", "/api/v1/bulletins", "officer-a",
                      json={"title": "Thông báo của xã A", "text": "Họp thôn lúc 19h tối nay."})
    return int(created.json()["id"])


def objects_of_a(web: WebWorld) -> dict[str, int]:
    """Ids of commune A's thôn, cluster, officer, and one live session of that officer."""
    from sqlalchemy import select

    from broadcaster.models import ApiToken

    officer = web.seed.communes["A"].users["officer"].id
    with web.db.session() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == officer,
                                                             ApiToken.revoked_at.is_(None))).first()
    assert token_id is not None
    commune = web.seed.communes["A"]
    return {"zone_id": commune.zone_id, "cluster_id": commune.cluster_id, "account_id": officer, "token_id": token_id}


def test_anonymous_callers_are_sent_to_login_and_change_nothing(web: WebWorld, bulletin_of_a: int) -> None:
    before = web.api("GET", f"/api/v1/bulletins/{bulletin_of_a}", "officer-a").json()
    with httpx.Client(base_url=web.url, timeout=30) as anonymous:
        for method, path in sorted(LOGIN_ONLY | BULLETIN_ROUTES | OBJECT_ROUTES | LEXICON_ENTRY_ROUTES
                                   | PROVINCE_BULLETIN_ROUTES):
            url = path.format(bulletin_id=bulletin_of_a, **EXAMPLE_PARAMS, **objects_of_a(web))
            answer = anonymous.request(method, url, data={"title": "x", "text": "y"})
            if method == "GET":
                assert answer.status_code == 303, (method, path, answer.status_code)
                # "/" is only a signpost to the bulletin list, which itself asks for login.
                expected = "/ban-tin" if path == "/" else "/dang-nhap"
                assert answer.headers["location"].startswith(expected), (method, path)
            else:
                assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
    after = web.api("GET", f"/api/v1/bulletins/{bulletin_of_a}", "officer-a").json()
    assert after == before


def test_another_communes_user_gets_not_found_on_every_bulletin_route(web: WebWorld, bulletin_of_a: int) -> None:
    before = web.api("GET", f"/api/v1/bulletins/{bulletin_of_a}", "officer-a").json()
    client, _ = http_login(web, "officer-b")
    token = form_token(client.get("/soan-tin").text)
    for method, path in sorted(BULLETIN_ROUTES):
        url = path.format(bulletin_id=bulletin_of_a)
        answer = client.request(method, url, data={"csrf_token": token, "reason": "thử", "title": "x", "text": "y"})
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert "Thông báo của xã A" not in answer.text
    assert web.api("GET", f"/api/v1/bulletins/{bulletin_of_a}", "officer-a").json() == before


def _registry_of_a(web: WebWorld) -> tuple[object, ...]:
    """Commune A's clusters (without their live presence), thôn/bản and accounts, from the API."""
    clusters = web.api("GET", f"/api/v1/communes/{web.commune_id()}/clusters", "admin-a").json()
    stable = [{k: v for k, v in c.items() if k not in ("presence", "last_heartbeat_at")} for c in clusters]
    return (stable, web.api("GET", f"/api/v1/communes/{web.commune_id()}/zones", "admin-a").json(),
            web.api("GET", f"/api/v1/users?commune_id={web.commune_id()}", "admin-a").json())


def test_another_communes_admin_gets_not_found_on_every_object_and_commune_page(web: WebWorld) -> None:
    objects = objects_of_a(web)
    before = _registry_of_a(web)
    # An admin of commune B of its own (the seeded one may be paused by the login-limit test).
    created = web.api("POST", "/api/v1/users", "tinh", json={
        "username": "quan-tri-b2", "password": PASSWORD, "role": "admin", "commune_id": web.commune_id("B")})
    assert created.status_code == 201, created.text
    client, _ = http_login(web, "quan-tri-b2")
    token = form_token(client.get("/tai-khoan").text)
    form = {"csrf_token": token, "name": "Đổi trộm", "zone_name": "Thôn lạ", "username": "ke.la", "full_name": "x",
            "role": "admin", "volume": "5", "xa": str(web.commune_id())}
    for method, path in sorted(OBJECT_ROUTES | COMMUNE_ROUTES):
        url = path.format(**objects)
        if (method, path) in COMMUNE_ROUTES and method == "GET":
            url += f"?xa={web.commune_id()}"
        answer = client.request(method, url, data=form if method == "POST" else None)
        assert answer.status_code == 404, (method, path, answer.status_code)
    assert _registry_of_a(web) == before
    # The officer's session still works: it was not revoked by the other commune's admin.
    assert web.api("GET", "/api/v1/bulletins", "officer-a").status_code == 200


def test_another_communes_user_gets_not_found_on_every_lexicon_entry_route(web: WebWorld) -> None:
    owner, _ = http_login(web, "officer-a")
    token = form_token(owner.get("/tu-dien").text)
    added = owner.post("/tu-dien/them", data={"csrf_token": token, "written": "Bản Phìn", "spoken": "bản phìn"})
    assert added.status_code == 303
    match = re.search(r'href="/tu-dien/(\d+)/sua"', owner.get("/tu-dien").text)
    assert match is not None
    entry_id = int(match.group(1))
    client, _ = http_login(web, "officer-b")
    token = form_token(client.get("/tu-dien").text)
    for method, path in sorted(LEXICON_ENTRY_ROUTES):
        answer = client.request(method, path.format(entry_id=entry_id),
                                data={"csrf_token": token, "written": "x", "spoken": "y"})
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert "Bản Phìn" not in answer.text
    assert "Bản Phìn" in owner.get("/tu-dien").text  # unchanged by any of it


def test_a_commune_not_sent_a_province_bulletin_gets_not_found_and_changes_nothing(web: WebWorld) -> None:
    created = web.api("POST", "/api/v1/users", "tinh", json={
        "username": "tinh-duyet-kiem-tra", "password": PASSWORD, "role": "approver", "commune_id": None})
    assert created.status_code == 201, created.text
    approver = web.api("POST", "/api/v1/auth/token", "tinh",
                       json={"username": "tinh-duyet-kiem-tra", "password": PASSWORD}).json()["access_token"]
    sent = web.api("POST", "/api/v1/province-bulletins", "tinh", json={
        "title": "Tin riêng cho xã A", "text": "Họp dân về đường liên thôn.", "commune_ids": [web.commune_id("A")]})
    bulletin_id = sent.json()["id"]
    approved = httpx.post(f"{web.url}/api/v1/province-bulletins/{bulletin_id}/approve", timeout=30,
                          headers={"Authorization": f"Bearer {approver}"})
    assert approved.status_code == 200, approved.text
    client, _ = http_login(web, "officer-b")
    token = form_token(client.get("/soan-tin").text)
    for method, path in sorted(PROVINCE_BULLETIN_ROUTES):
        for xa in (web.commune_id("B"), web.commune_id("A")):
            answer = client.request(method, path.format(bulletin_id=bulletin_id),
                                    data={"csrf_token": token, "reason": "thử", "xa": str(xa)})
            assert answer.status_code == 404, (method, path, xa, answer.status_code)
            assert "Tin riêng cho xã A" not in answer.text
    inbox = web.api("GET", f"/api/v1/communes/{web.commune_id('A')}/province-inbox", "officer-a").json()
    assert [(i["province_bulletin_id"], i["state"]) for i in inbox if i["province_bulletin_id"] == bulletin_id] == [
        (bulletin_id, "pending")]
