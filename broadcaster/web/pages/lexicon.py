"""Từ điển địa phương: the commune's own lexicon, edited by its officers, with "Nghe thử" per entry.

Entries take effect on the next rendering (the speech service reads them each time). Adding an
entry is also offered from the spoken form of a bulletin (compose, approval and bulletin pages):
those forms post here with ``tiep``, the page to go back to, and the page script posts the same
form as JSON to stay on the compose page without losing the text being written.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from broadcaster.api.deps import DbSession, RuntimeDep
from broadcaster.api.schemas.common import IdPath
from broadcaster.errors import BroadcasterError
from broadcaster.models import Commune, LexiconEntry, User
from broadcaster.services import lexicon as lexicon_service
from broadcaster.services.lexicon import NOTE_MAX, SPOKEN_MAX, WRITTEN_MAX, EntryFields
from broadcaster.web.formatting import duration
from broadcaster.web.pages.bulletins import AUDIO_TYPES
from broadcaster.web.pages.common import answer_form, commune_choices, page_commune, see_other
from broadcaster.web.rendering import render
from broadcaster.web.routing import PageUser, WebRoute, safe_next, wants_json

router = APIRouter(route_class=WebRoute)
LEXICON_PATH = "/tu-dien"

WrittenField = Annotated[str, Form(max_length=WRITTEN_MAX * 2)]
SpokenField = Annotated[str, Form(max_length=SPOKEN_MAX * 2)]
NoteField = Annotated[str, Form(max_length=NOTE_MAX * 2)]
SmallField = Annotated[str, Form(max_length=2000)]


def _page(
    request: Request,
    session: Session,
    user: User,
    commune: Commune,
    *,
    search: str = "",
    values: dict[str, str] | None = None,
    error: BroadcasterError | None = None,
    editing: Any = None,
    status: int = 200,
) -> Response:
    entries = lexicon_service.list_entries(session, user, commune.id, search)
    return render(
        request,
        "lexicon.html",
        {
            "commune": commune,
            "communes": commune_choices(session, user),
            "entries": entries,
            "search": search,
            "values": values or {"written": "", "spoken": "", "note": "", "tiep": ""},
            "error": error,
            "editing": editing,
            "written_max": WRITTEN_MAX,
            "spoken_max": SPOKEN_MAX,
            "note_max": NOTE_MAX,
        },
        status=status,
    )


@router.get(LEXICON_PATH)
def lexicon_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    xa: str = "",
    q: str = "",
    viet: str = "",
    doc: str = "",
    tiep: str = "",
) -> Response:
    """The commune's entries, a search, the add form (prefilled from ``viet``/``doc``), import and export."""
    commune = page_commune(session, user, xa)
    values = {"written": viet[:WRITTEN_MAX], "spoken": doc[:SPOKEN_MAX], "note": "", "tiep": safe_next(tiep) if tiep else ""}
    return _page(request, session, user, commune, search=q.strip()[:100], values=values)


@router.post(f"{LEXICON_PATH}/them")
def add(
    request: Request,
    user: PageUser,
    session: DbSession,
    written: WrittenField = "",
    spoken: SpokenField = "",
    note: NoteField = "",
    xa: SmallField = "",
    tiep: SmallField = "",
) -> Response:
    """Add an entry; back to ``tiep`` (the bulletin being read) or to the lexicon."""
    commune = page_commune(session, user, xa)

    def added(entry: LexiconEntry) -> Response:
        if wants_json(request):
            return JSONResponse({"id": entry.id, "written": entry.written, "spoken": entry.spoken})
        if tiep:
            return see_other(_with_note(safe_next(tiep), "da-them-tu"))
        return see_other(f"{LEXICON_PATH}?xa={commune.id}&tb=da-them-tu")

    def refused(error: BroadcasterError) -> Response:
        if wants_json(request):
            raise error  # the page script gets the coded JSON error (WebRoute)
        values = {"written": written, "spoken": spoken, "note": note, "tiep": tiep}
        return _page(request, session, user, commune, values=values, error=error, status=error.status)

    return answer_form(
        session, lambda: lexicon_service.add_entry(session, user, commune.id, EntryFields(written, spoken, note)),
        added, refused)


def _with_note(target: str, note: str) -> str:
    path, _, fragment = target.partition("#")
    joined = f"{path}{'&' if '?' in path else '?'}tb={note}"
    return f"{joined}#{fragment}" if fragment else joined


@router.get(f"{LEXICON_PATH}/{{entry_id}}/sua")
def edit_form(request: Request, entry_id: IdPath, user: PageUser, session: DbSession) -> Response:
    """The lexicon page with one entry open for editing."""
    entry = lexicon_service.get_entry(session, user, entry_id)
    commune = page_commune(session, user, str(entry.commune_id))
    values = {"written": entry.written, "spoken": entry.spoken, "note": entry.note, "tiep": ""}
    return _page(request, session, user, commune, values=values, editing=entry)


@router.post(f"{LEXICON_PATH}/{{entry_id}}/sua")
def edit(
    request: Request,
    entry_id: IdPath,
    user: PageUser,
    session: DbSession,
    written: WrittenField = "",
    spoken: SpokenField = "",
    note: NoteField = "",
) -> Response:
    """Save an entry's changes."""
    commune_id = lexicon_service.get_entry(session, user, entry_id).commune_id

    def refused(error: BroadcasterError) -> Response:
        commune = page_commune(session, user, str(commune_id))
        values = {"written": written, "spoken": spoken, "note": note, "tiep": ""}
        entry = lexicon_service.get_entry(session, user, entry_id)  # as stored, after the rollback
        return _page(request, session, user, commune, values=values, error=error, editing=entry, status=error.status)

    return answer_form(
        session, lambda: lexicon_service.edit_entry(session, user, entry_id, EntryFields(written, spoken, note)),
        lambda _: see_other(f"{LEXICON_PATH}?xa={commune_id}&tb=da-sua-tu"), refused)


@router.post(f"{LEXICON_PATH}/{{entry_id}}/xoa")
def delete(entry_id: IdPath, user: PageUser, session: DbSession) -> Response:
    """Remove an entry."""
    commune_id = lexicon_service.get_entry(session, user, entry_id).commune_id
    lexicon_service.delete_entry(session, user, entry_id)
    return see_other(f"{LEXICON_PATH}?xa={commune_id}&tb=da-xoa-tu")


@router.get(f"{LEXICON_PATH}/{{entry_id}}/nghe-thu")
def entry_preview(entry_id: IdPath, user: PageUser, session: DbSession, runtime: RuntimeDep) -> Response:
    """The entry's written form read as the commune's bulletins will read it (its voice, rate and lexicon)."""
    entry = lexicon_service.get_entry(session, user, entry_id)
    commune = page_commune(session, user, str(entry.commune_id))
    audio = runtime.preview(user, lambda: runtime.speech.render_text(
        entry.written, voice=commune.default_voice, rate=commune.speech_rate, commune_id=commune.id
    ))  # in the previews' lane: a burst of "Nghe thử" never delays an emergency
    return FileResponse(
        audio.path,
        media_type=AUDIO_TYPES.get(audio.fmt, "application/octet-stream"),
        headers={"Cache-Control": "private, no-store"},
    )


@router.post(f"{LEXICON_PATH}/nghe-thu")
def reading_preview(
    user: PageUser, session: DbSession, runtime: RuntimeDep, spoken: SpokenField = "", xa: SmallField = ""
) -> JSONResponse:
    """A reading typed in the form, synthesized before it is saved (for the page script)."""
    commune = page_commune(session, user, xa)
    audio = runtime.preview(user, lambda: runtime.speech.render_text(
        spoken, voice=commune.default_voice, rate=commune.speech_rate, commune_id=commune.id
    ))
    return JSONResponse(
        {"url": f"/nghe-thu/{audio.sha256}.{audio.fmt}", "duration": duration(audio.duration_s)}
    )


@router.get(f"{LEXICON_PATH}/xuat.tsv")
def export(user: PageUser, session: DbSession, xa: str = "") -> Response:
    """The commune's lexicon as a TSV file (what ``--lexicon`` and the import read)."""
    commune = page_commune(session, user, xa)
    body = lexicon_service.export_tsv(session, user, commune.id)
    return PlainTextResponse(
        body,
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tu-dien-{commune.code}.tsv"'},
    )


@router.post(f"{LEXICON_PATH}/nhap")
async def import_file(
    request: Request,
    user: PageUser,
    session: DbSession,
    xa: SmallField = "",
    tep: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Add or update entries from a TSV file; a bad line is named and nothing changes."""
    commune = page_commune(session, user, xa)
    chosen = tep is not None and bool(tep.filename)
    data = await tep.read(lexicon_service.MAX_IMPORT_BYTES + 1) if tep is not None and chosen else b""

    def import_chosen() -> lexicon_service.ImportResult:
        if tep is None or not chosen:
            raise lexicon_service.LexiconEntryInvalid("Hãy chọn tệp từ điển (.tsv).")
        return lexicon_service.import_tsv(session, user, commune.id, data, tep.filename or "")

    def imported(result: lexicon_service.ImportResult) -> Response:
        note = "da-nhap-tu" if result.added or result.changed else "da-nhap-tu-khong-doi"
        return see_other(f"{LEXICON_PATH}?xa={commune.id}&tb={note}")

    return answer_form(session, import_chosen, imported,
                       lambda error: _page(request, session, user, commune, error=error, status=error.status))
