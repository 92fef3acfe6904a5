"""The long-lived parts of a running app (database, stores, services, scheduler), built by its lifespan.

The speech and programming services are built on first use, or at start-up when the scheduler
runs (it needs them); their modules are imported only then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from broadcaster.clock import Clock, SystemClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.errors import ServiceFailure
from broadcaster.models import User
from broadcaster.node_identity import NodeIdentity, claim_node_identity
from broadcaster.private_files import private_dir
from broadcaster.render_lanes import PreviewLane
from broadcaster.services.login_limits import LoginLimiter
from broadcaster.uploads import UploadStore

if TYPE_CHECKING:
    from broadcaster.services.audio_files import AudioFiles, AudioScrub
    from broadcaster.services.audio_recovery import AudioRecovery
    from broadcaster.services.delivery import DeliveryService
    from broadcaster.services.handoff import ProgrammeHandoff
    from broadcaster.services.programming import ProgrammingService
    from broadcaster.speech import SpeechService
    from broadcaster.timetable import Timetable

T = TypeVar("T")


class ComponentUnavailable(ServiceFailure):
    """A part of the service (speech, programming) could not be started."""

    code = "component_unavailable"


class Runtime:
    """The long-lived parts of one running app: database, stores, services, scheduler."""

    def __init__(self, settings: Settings, *, handoff: ProgrammeHandoff | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        private_dir(settings.data_dir)  # the database, keys and recordings live under it
        self.db = Database(settings.effective_database_url, busy_timeout_s=settings.database_busy_timeout_s)
        self.uploads = UploadStore(settings.data_dir / "uploads", max_bytes=settings.upload_max_bytes,
                                   max_duration_s=settings.upload_max_duration_s)
        self._handoff = handoff
        self._speech: SpeechService | None = None
        self._programming: ProgrammingService | None = None
        self._timetables: dict[str, Timetable] | None = None
        self.scheduler: Any = None
        self.delivery: DeliveryService | None = None  # with handoff "deliver": sends orders to the clusters
        self._node: NodeIdentity | None = None
        self._audio_files: AudioFiles | None = None
        self._audio_recovery: AudioRecovery | None = None
        self._scrub: AudioScrub | None = None
        self._lock = threading.Lock()
        # Shared by the API and the pages' login, and through the database by every replica.
        self.login_limiter = LoginLimiter.from_settings(settings, self.db, self.clock)
        self.previews = PreviewLane.from_settings(settings)

    @property
    def speech(self) -> SpeechService:
        """The speech service, built on first use (it loads engines and opens the audio cache)."""
        with self._lock:
            if self._speech is None:
                try:
                    from broadcaster.speech import SpeechService
                except ImportError as error:
                    raise ComponentUnavailable("Dịch vụ đọc văn bản chưa sẵn sàng.", detail=str(error)) from error
                from broadcaster.services.lexicon import CommuneLexicons

                self._speech = SpeechService(self.settings, lexicons=CommuneLexicons(self.db))
            return self._speech

    def check_voice(self, value: str) -> str:
        """``value`` as a stored voice choice if this server can read with it (``UnknownVoice`` if not)."""
        return self.speech.check_voice(value)

    def preview(self, user: User, render: Callable[[], T]) -> T:
        """Run a preview render in the previews' lane: low priority, bounded per person and in total."""
        return self.previews.run(str(user.id), render)

    @property
    def node(self) -> NodeIdentity:
        """This process's node identity (the data dir's stable id while this process holds it)."""
        with self._lock:
            if self._node is None:
                self._node = claim_node_identity(self.settings.data_dir)
            return self._node

    @property
    def handoff(self) -> ProgrammeHandoff:
        """Where rendered programmes go: the injected hand-off, or the one the settings name."""
        if self._handoff is None and self.delivery is not None:
            self._handoff = self.delivery
        if self._handoff is None:
            from broadcaster.services.handoff import handoff_from_spec

            self._handoff = handoff_from_spec(self.settings.handoff)
        return self._handoff

    @property
    def timetables(self) -> dict[str, Timetable]:
        """Every timetable file of the schedules directory, loaded (and validated) once."""
        with self._lock:
            if self._timetables is None:
                from broadcaster.timetable import load_timetables

                self._timetables = load_timetables(self.settings.schedules_dir)
            return self._timetables

    def reschedule(self, commune_id: int) -> None:
        """Tell the scheduler a commune's sessions changed (``services.registry.TimetableChanged``).

        It re-plans the commune at once when it runs in this process and leads; otherwise the
        leader's housekeeping picks the change up.
        """
        if self.scheduler is not None:
            self.scheduler.reschedule_commune(commune_id)

    def recall_airing(self, airing_id: int, cluster_ids: Sequence[int], actor_id: int | None = None) -> Any:
        """Replace a handed-off session programme without the bulletins cancelled since (``workflow.RecallAiring``)."""
        return self.programming.recompose_airing(airing_id, cluster_ids, actor_id=actor_id)

    @property
    def programming(self) -> ProgrammingService:
        """The programming service (composes sessions and emergencies), built on first use."""
        speech = self.speech
        timetables = self.timetables
        node = self.node
        with self._lock:
            if self._programming is None:
                try:
                    from broadcaster.services.programming import ProgrammingService
                except ImportError as error:
                    raise ComponentUnavailable("Dịch vụ soạn chương trình chưa sẵn sàng.",
                                               detail=str(error)) from error
                self._programming = ProgrammingService(
                    self.settings, self.db, speech, self.handoff, timetables, clock=self.clock, node=node,
                )
            return self._programming

    @property
    def audio_files(self) -> AudioFiles:
        """What ``/audio`` serves from: verified cached audio, made again from its masters when lost."""
        from broadcaster.services.audio_files import AudioFiles

        with self._lock:
            if self._audio_files is None:
                self._audio_files = AudioFiles(lambda sha256: self.speech.audio_path(sha256),
                                               recover=lambda sha256: self.audio_recovery.recover(sha256))
            return self._audio_files

    @property
    def audio_recovery(self) -> AudioRecovery:
        """Renders lost programme audio again (and re-issues orders when it cannot be bit-exact)."""
        from broadcaster.services.audio_recovery import AudioRecovery

        speech, handoff = self.speech, self.handoff
        with self._lock:
            if self._audio_recovery is None:
                self._audio_recovery = AudioRecovery(self.db, speech, handoff, self.clock,
                                                     uploads_dir=self.settings.data_dir / "uploads",
                                                     delay_s=self.settings.prompt_delay_s)
            return self._audio_recovery

    def start_blocking(self) -> None:
        """The blocking part of start-up (run in a thread): migrate, and build services if scheduling."""
        self.db.upgrade()
        _ = self.timetables  # a malformed schedules/*.yaml stops start-up with the file and field named
        self.start_delivery()
        if self.delivery is not None:  # agents download from here: check what they get now and then
            from broadcaster.services.audio_files import AudioScrub

            self._scrub = AudioScrub(self.audio_files, self.settings.audio_scrub_interval_s)
            self._scrub.start()
        if self.settings.run_scheduler:
            _ = self.programming

    def start_scheduler(self) -> None:
        """Start the broadcast scheduler in the running event loop (unless switched off)."""
        if not self.settings.run_scheduler:
            return
        from broadcaster.scheduler import BroadcastScheduler

        # The lease holder schedules and runs the delivery lanes; a standby only stores orders.
        self.scheduler = BroadcastScheduler(self.settings, self.db, self.programming, clock=self.clock, node=self.node,
                                            delivery=self.delivery)
        self.scheduler.start()

    def start_delivery(self) -> None:
        """With ``handoff: deliver`` (and no injected hand-off): the service that signs, stores and sends orders.

        Without a scheduler (no lease to hold) this process sends at once; with one, the delivery
        lanes run only while it holds the scheduler lease (``docs/architecture.md``, Deployment).
        """
        if self.settings.handoff != "deliver" or self._handoff is not None or self.delivery is not None:
            return
        from broadcaster.services.delivery import DeliveryService

        self.delivery = DeliveryService(self.settings, self.db, self.speech.cache)
        if not self.settings.run_scheduler:
            self.delivery.start()

    def stop(self) -> None:
        """Stop the scheduler and close the database connections."""
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self._scrub is not None:
            self._scrub.close()
            self._scrub = None
        if self.delivery is not None:
            self.delivery.close()  # queued orders stay stored; the next start resumes them
            self.delivery = None
        self.previews.close()
        self.db.dispose()
        if self._node is not None:
            self._node.release()
            self._node = None
