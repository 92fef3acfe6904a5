"""Sửa lịch phát (a commune admin): weekly sessions and dated exceptions, a preview, then saving.

One form in two steps: "Xem trước" shows what the change does to the coming week (sessions
cancelled, moved, resized or added, bulletins that move or no longer fit) and only then offers
"Lưu"; saving re-checks everything, stores it (audited), withdraws programmes of removed
sessions from the speakers and re-plans at once (``services.timetable_changes``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import Commune, Role, User
from broadcaster.services import scoping, timetable_access, timetable_changes
from broadcaster.timetable import DAY_NAMES, Timetable
from broadcaster.timetable_exceptions import KIND_LABELS
from broadcaster.web import forms
from broadcaster.web.formatting import SHORT_WEEKDAYS
from broadcaster.web.pages.common import page_commune, see_other
from broadcaster.web.rendering import render
from broadcaster.web.routing import FormInvalid, PageUser, WebRoute

router = APIRouter(route_class=WebRoute)
EDIT_PATH = "/lich-phat/sua"
BLANK_ROWS = 2
MAX_ROWS = 24


def _rows(timetable: Timetable) -> list[dict[str, Any]]:
    return [{"name": s.name, "label": s.label, "start": s.start.strftime("%H:%M"), "days": sorted(s.days),
             "minutes": f"{s.max_duration_s / 60:g}"} for s in timetable.sessions]


def _blank_new() -> dict[str, str]:
    return {"kind": "closed", "date": "", "until": "", "start": "", "minutes": "", "session": "", "label": ""}


def _page(request: Request, commune: Commune, rows: list[dict[str, Any]], exceptions: list[dict[str, Any]],
          new: dict[str, str], *, preview: Any = None, error: BroadcasterError | None = None) -> Response:
    rows = rows + [{"name": "", "label": "", "start": "", "days": [], "minutes": ""} for _ in range(BLANK_ROWS)]
    return render(request, "timetable_edit.html", {
        "commune": commune, "rows": rows, "exceptions": exceptions, "new": new, "preview": preview, "error": error,
        "weekdays": list(enumerate(SHORT_WEEKDAYS)), "kinds": KIND_LABELS,
        "session_names": [(r["name"], r["label"] or r["name"]) for r in rows if r["name"]],
        "exceptions_json": json.dumps(exceptions, ensure_ascii=False),
    }, status=error.status if error else 200)


@router.get(EDIT_PATH)
def edit_form(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep, xa: str = "") -> Response:
    """The commune's sessions and exceptions in a form (admins)."""
    commune = page_commune(session, user, xa)
    scoping.require_role(user, Role.ADMIN)
    timetable = timetable_access.read(session, user, commune.id, runtime.timetables)
    return _page(request, commune, _rows(timetable), [e.to_dict() for e in timetable.exceptions], _blank_new())


def _sessions(form: FormData) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The session rows as typed (to show again) and as a timetable document."""
    count = forms.number(str(form.get("rows", "0")), "Số dòng", default=0, low=0, high=MAX_ROWS)
    rows, sessions = [], []
    for index in range(count):
        def field(name: str, i: int = index) -> str:
            value = form.get(f"s{i}_{name}", "")
            return value if isinstance(value, str) else ""
        days = sorted({int(d) for d in form.getlist(f"s{index}_days") if isinstance(d, str) and d in "0123456"})
        row = {"name": field("name"), "label": field("label"), "start": field("start"), "days": days,
               "minutes": field("minutes")}
        if not row["start"].strip():
            continue  # an empty row, or a session the admin removed by clearing its time
        rows.append(row)
        label = forms.text(row["label"], f"Tên buổi {len(rows)}", max_length=100, required=False)
        start = forms.optional_clock(row["start"], f"Giờ bắt đầu của buổi «{label or len(rows)}»")
        if not days:
            raise FormInvalid(f"Buổi «{label or len(rows)}» cần ít nhất một ngày trong tuần.")
        minutes = forms.number(row["minutes"], f"Thời lượng của buổi «{label or len(rows)}» (phút)",
                               default=15, low=1, high=180)
        name = row["name"] if row["name"] else f"buoi-{start:%H%M}"
        row["name"] = name
        sessions.append({"name": name, "label": label, "start": f"{start:%H:%M}", "days": [DAY_NAMES[d] for d in days],
                         "max_minutes": minutes})
    if not sessions:
        raise FormInvalid("Lịch phát cần ít nhất một buổi.")
    return rows, {"description": "Lịch riêng của xã (sửa trên trang web)", "sessions": sessions}


def _exceptions(form: FormData, new: dict[str, str]) -> list[dict[str, Any]]:
    try:
        kept = json.loads(str(form.get("exceptions_json", "[]")))
    except ValueError:
        raise FormInvalid("Danh sách ngoại lệ gửi lên bị hỏng; hãy tải lại trang.") from None
    if not isinstance(kept, list):
        raise FormInvalid("Danh sách ngoại lệ gửi lên bị hỏng; hãy tải lại trang.")
    removed = {int(v) for v in form.getlist("remove") if isinstance(v, str) and v.isdigit()}
    kept = [e for i, e in enumerate(kept) if i not in removed]
    if new["date"].strip():
        day = forms.required_date(new["date"], "Ngày")
        added: dict[str, Any] = {"kind": forms.choice(new["kind"], "Loại ngoại lệ", KIND_LABELS),
                                 "date": day.isoformat()}
        if new["label"].strip():
            added["label"] = forms.text(new["label"], "Ghi chú", max_length=200)
        until = forms.optional_date(new["until"], "Đến ngày")
        if added["kind"] == "closed" and until is not None:
            added["until"] = until.isoformat()
        start = forms.optional_clock(new["start"], "Giờ")
        if added["kind"] != "closed":
            if start is not None:
                added["start"] = f"{start:%H:%M}"
            if new["minutes"].strip():
                added["max_minutes"] = forms.number(new["minutes"], "Thời lượng (phút)", default=15, low=1, high=180)
        if added["kind"] == "changed":
            added["session"] = new["session"]
        kept.append(added)
    return kept


@router.post(EDIT_PATH)
async def submit(request: Request, user: PageUser, session: DbSession, runtime: RuntimeDep) -> Response:
    """"Xem trước": what the change would do; "Lưu": store it, withdraw removed sessions, re-plan."""
    form = await request.form()
    commune = page_commune(session, user, str(form.get("xa", "")))
    new = {key: str(form.get(f"new_{key}", "")) for key in _blank_new()}
    rows: list[dict[str, Any]] = []
    try:
        scoping.require_role(user, Role.ADMIN)
        rows, document = _sessions(form)
        exceptions = _exceptions(form, new)
        proposal = timetable_changes.propose(session, user, commune.id, document, exceptions, runtime.timetables)
        if form.get("action") == "save":
            timetable_changes.apply(session, user, commune.id, proposal, now=runtime.clock.now(),
                                    withdraw=_withdraw(runtime, user), reschedule=runtime.reschedule)
            return see_other(f"/lich-phat?xa={commune.id}&tb=da-luu-lich")
        change = timetable_changes.preview(session, user, commune.id, proposal, lambda: runtime.programming,
                                           runtime.clock.now())
    except NotAuthenticated:
        raise
    except BroadcasterError as error:
        session.rollback()
        # The exception being added stays in the "Thêm" fields to fix, not in the list.
        return _page(request, commune, rows, _stored_exceptions(form), new, error=error)
    return _page(request, commune, rows, proposal.exceptions, _blank_new(), preview=change)


def _stored_exceptions(form: FormData) -> list[dict[str, Any]]:
    try:
        kept = json.loads(str(form.get("exceptions_json", "[]")))
    except ValueError:
        return []
    return kept if isinstance(kept, list) else []


def _withdraw(runtime: Any, user: User) -> Any:
    from broadcaster.services.programming.emergency import withdraw_airing

    def withdraw(airing_id: int, commune_id: int, cluster_ids: list[int], note: str) -> None:
        withdraw_airing(runtime.db, runtime.handoff, airing_id, commune_id, cluster_ids, note=note,
                        details={"reason": "timetable_change"}, actor_id=user.id)

    return withdraw
