"""Four eyes: a bulletin needs an approver other than its author, unless the commune turned it off.

``Commune.four_eyes`` (on by default) decides. The one exception is an emergency when nobody else
can approve it in time: the commune has no other active leader (approver account), or the author
declares, at sending, that they are the only leader on duty right now. Either way the approval
goes through and the audit event says why (``self_approval``), so the exception is on the record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.errors import PermissionDenied
from broadcaster.models import Commune, Role, User

SINGLE_LEADER = "single_leader"  # the commune has no other active approver
DECLARED_SOLE_LEADER = "declared_sole_leader_on_duty"  # the author said so when sending the emergency
FOUR_EYES_OFF = "four_eyes_off"  # the commune turned the rule off


class FourEyesRequired(PermissionDenied):
    """The commune requires a second person to approve, and this approver wrote the bulletin."""

    code = "four_eyes_required"


def other_leaders(session: Session, commune_id: int | None, actor: User) -> int:
    """How many active approvers the commune (None: the province, whose admins lead too) has besides ``actor``."""
    if commune_id is None:
        where = User.commune_id.is_(None) & User.role.in_((Role.APPROVER, Role.ADMIN))
    else:
        where = (User.commune_id == commune_id) & (User.role == Role.APPROVER)
    return session.scalar(
        select(func.count()).select_from(User).where(where, User.is_active.is_(True), User.id != actor.id)
    ) or 0


def check_province_self_approval(session: Session, actor: User, *, emergency: bool) -> dict[str, Any]:
    """Like ``check_self_approval`` for a province bulletin: the province always applies four eyes."""
    if emergency and other_leaders(session, None, actor) == 0:
        return {"self_approval": SINGLE_LEADER}
    raise FourEyesRequired(
        "Tỉnh áp dụng duyệt hai người: người soạn không tự duyệt bản tin của mình. Hãy nhờ một lãnh đạo tỉnh khác duyệt.",
        detail=f"user {actor.id} self-approving a province bulletin",
    )


def check_self_approval(session: Session, commune_id: int, actor: User, *, emergency: bool,
                        declared_sole_leader: bool = False) -> dict[str, Any]:
    """Audit details for ``actor`` approving their own bulletin, or ``FourEyesRequired`` if they may not."""
    commune = session.get(Commune, commune_id)
    if commune is None or not commune.four_eyes:
        return {"self_approval": FOUR_EYES_OFF}
    if emergency and other_leaders(session, commune_id, actor) == 0:
        return {"self_approval": SINGLE_LEADER}
    if emergency and declared_sole_leader:
        return {"self_approval": DECLARED_SOLE_LEADER}
    if emergency:
        raise FourEyesRequired(
            "Xã áp dụng duyệt hai người: bản tin khẩn do anh/chị soạn cần một lãnh đạo khác duyệt. Nếu anh/chị "
            "là lãnh đạo trực duy nhất lúc này, hãy đánh dấu «Tôi là lãnh đạo trực duy nhất» rồi gửi lại "
            "(điều này được ghi vào nhật ký).",
            detail=f"user {actor.id} self-approving an emergency of commune {commune_id}",
        )
    raise FourEyesRequired(
        "Xã áp dụng duyệt hai người: người soạn không tự duyệt bản tin của mình. Hãy nhờ một lãnh đạo khác duyệt.",
        detail=f"user {actor.id} self-approving in commune {commune_id}",
    )
