"""Approving what will be heard: the approval is bound to the spoken form the approver saw.

The approval page shows each text's spoken form ("Máy sẽ đọc là") and sends back its digest with
"Duyệt". If the text or the commune's lexicon changed the reading since the page was opened, the
approval is refused with a message asking to look again; otherwise the digest and the spoken text
are kept in the audit log beside the approval, so the log says what was approved to be heard.
Later lexicon edits are audited on their own (``services.lexicon``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from broadcaster.errors import Conflict
from broadcaster.models import Bulletin, User
from broadcaster.services.audit import record

if TYPE_CHECKING:
    from broadcaster.speech import SpeechService

HEARD_ACTION = "approve_heard"


class SpokenFormChanged(Conflict):
    """The reading changed between showing it to the approver and the approval."""

    code = "spoken_form_changed"


def spoken_digest(spoken: str) -> str:
    """The digest of a spoken form, as the approval page sends it back."""
    return hashlib.sha256(spoken.encode("utf-8")).hexdigest()


def current_spoken(speech: SpeechService, bulletin: Bulletin) -> str | None:
    """The bulletin's spoken form with its commune's lexicon as it is now (None for a recording)."""
    if bulletin.text is None:
        return None
    return speech.spoken_form(bulletin.text, commune_id=bulletin.commune_id)


def check_heard(speech: SpeechService, bulletin: Bulletin, heard: str) -> str | None:
    """Refuse if the reading is not the one whose digest the approver saw; the spoken form otherwise."""
    spoken = current_spoken(speech, bulletin)
    if spoken is None or not heard:
        return spoken  # a recording, or an approval from the API that showed no reading
    if spoken_digest(spoken) != heard:
        raise SpokenFormChanged(
            "Cách đọc của bản tin đã thay đổi từ khi trang được mở (văn bản hoặc từ điển của xã vừa được sửa). "
            "Hãy xem lại «Máy sẽ đọc là» rồi duyệt.",
            detail=f"bulletin {bulletin.id}",
        )
    return spoken


def record_heard(session: Session, actor: User, bulletin: Bulletin, spoken: str) -> None:
    """Keep in the audit log what the approver approved to be heard, and commit."""
    record(session, actor=actor, action=HEARD_ACTION, object_type="bulletin", object_id=bulletin.id,
           commune_id=bulletin.commune_id, details={"spoken": spoken, "spoken_sha256": spoken_digest(spoken)})
    session.commit()
