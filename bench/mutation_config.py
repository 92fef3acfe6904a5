"""What the mutation bench mutates, the tests that guard each module, and the mutants judged equivalent.

MODULES: name → the file and the tests meant to guard it (paths or node ids; only the ones that
reach a mutant's lines run for it). EQUIVALENT: name → {"function: `before` → `after`": why no test
can tell the mutant from the original}. A judgement that no longer matches a surviving mutant is
reported under ``stale_equivalence_judgements``.
"""

from __future__ import annotations

MODULES: dict[str, dict[str, object]] = {
    "text.numbers": {
        "file": "broadcaster/text/numbers.py",
        "tests": ["tests/text/test_text_numbers.py", "tests/text/test_text_cases.py", "tests/text/test_text_rules.py"],
    },
    "web.security": {
        "file": "broadcaster/web/security.py",
        "tests": ["tests/web/test_web_security_rules.py", "tests/web/test_web_units.py"],
    },
    "services.scoping": {
        "file": "broadcaster/services/scoping.py",
        # The API's auth matrix (tests/api/test_auth_matrix.py, ~1 min) checks every route against
        # these rules too; the rules' own tests are what must catch a change here.
        "tests": ["tests/services/test_scoping.py"],
    },
    "delivery.orders": {
        "file": "broadcaster/delivery/orders.py",
        "tests": ["tests/delivery/test_delivery_orders.py", "tests/delivery/test_order_bounds.py"],
    },
    "agent.intake": {
        "file": "broadcaster/agent/intake.py",
        "tests": ["tests/agent/test_agent_intake.py"],
    },
    "agent.store": {
        "file": "broadcaster/agent/store.py",
        "tests": ["tests/agent/test_agent_store.py"],
    },
    "services.delivery_log": {
        "file": "broadcaster/services/delivery_log.py",
        "tests": ["tests/delivery/test_delivery_log_server.py"],
    },
    # --- agent and delivery (issue 15, second pass) ---
    "agent.conductor": {
        "file": "broadcaster/agent/conductor.py",
        # In process, with the real store, fetcher (audio from a local HTTP server), null player and
        # reporter; the agent-process tests (tests/agent/test_agent_play.py...) cover it end to end.
        "tests": ["tests/agent/test_agent_conductor.py", "tests/agent/test_agent_intake.py"],
    },
    "services.handoff": {
        "file": "broadcaster/services/handoff.py",
        "tests": ["tests/services/test_handoff.py"],
    },
    # The lanes run inside the real delivery service (it signs, stores, re-signs and records), so the
    # outbox's tests reach them too; agents are scripted HTTP endpoints on 127.0.0.1 behind the real
    # http transport. (tests/e2e reaches both with real agent processes, minutes a pass.)
    "services.delivery_lanes": {
        "file": "broadcaster/services/delivery_lanes.py",
        "tests": ["tests/delivery/test_delivery_lanes.py", "tests/delivery/test_delivery_outbox.py"],
    },
    "services.delivery": {
        "file": "broadcaster/services/delivery.py",
        "tests": ["tests/delivery/test_delivery_outbox.py", "tests/delivery/test_delivery_lanes.py",
                  "tests/delivery/test_link_states.py::test_the_links_of_many_boxes_are_written_in_one_transaction",
                  "tests/delivery/test_link_states.py::test_the_newest_change_of_a_box_wins_within_a_batch"],
    },
    # --- the workflow, emergency and scheduler side (mutsvc) ---
    "services.workflow": {
        "file": "broadcaster/services/workflow.py",
        # The workflow's own tests on a real database with the real programming service. The API tests
        # of emergencies and four eyes reach the same rules through the routes, but at ~12 min a pass
        # they are too slow to run per mutant; the rules' own tests are what must catch a change here.
        "tests": ["tests/services/test_workflow_rules.py", "tests/services/test_a_workflow_services.py",
                  "tests/services/test_cancel_aired.py", "tests/services/test_recall.py"],
    },
    "services.four_eyes": {
        "file": "broadcaster/services/four_eyes.py",
        "tests": ["tests/services/test_four_eyes_rules.py"],
    },
    "programming.emergency": {
        "file": "broadcaster/services/programming/emergency.py",
        # (test_resume_after_crash.py and the API's emergency history reach it too, but are slow per mutant.)
        "tests": ["tests/services/test_emergency_rules.py", "tests/services/test_programming_emergency.py"],
    },
    "programming.resume": {
        "file": "broadcaster/services/programming/resume.py",
        "tests": ["tests/services/test_resume_rules.py", "tests/services/test_resume_after_crash.py"],
    },
    "scheduler.lease": {
        "file": "broadcaster/scheduler/lease.py",
        "tests": ["tests/scheduler/test_lease.py"],
    },
}

EQUIVALENT: dict[str, dict[str, str]] = {
    # --- agent and delivery (issue 15, second pass) ---
    "delivery.orders": {
        'PlayOrder | seq: StrictInt = Field(ge=1, description="monotonic per cluster; the agent refuses seq <= last '
        'accepted") | `"monotonic per cluster; the agent refuses seq <= last accepted"` → `\'XXmonotonic per cluster; '
        'the agent refuses seq <= last acceptedXX\'`': "a field description is documentation (JSON schema text): validation, signing and the wire never read it.",
        'PlayOrder | play_at: AwareDatetime = Field(description="play orders: start; stop orders: when to stop") | '
        '`"play orders: start; stop orders: when to stop"` → `\'XXplay orders: start; stop orders: when to stopXX\'`':
            "a field description is documentation (JSON schema text): validation, signing and the wire never read it.",
        'PlayOrder | expires_at: AwareDatetime = Field(description="latest start; after it the order is missed") | '
        '`"latest start; after it the order is missed"` → `\'XXlatest start; after it the order is missedXX\'`':
            "a field description is documentation (JSON schema text): validation, signing and the wire never read it.",
        'AgentReport | seq: int = Field(ge=1, le=2**62, description="agent outbox sequence: strictly increasing per '
        'cluster") | `"agent outbox sequence: strictly increasing per cluster"` → `\'XXagent outbox sequence: strictly '
        'increasing per clusterXX\'`': "a field description is documentation (JSON schema text): validation, signing and the wire never read it.",
        '<module> | BoundedFloat = Annotated[float, Field(ge=-1e13, le=1e13, allow_inf_nan=False)] | `False` → `True`':
            "the bounds already refuse NaN and ±inf (pydantic fails NaN on any ge/le comparison), so allowing them changes nothing.",
        'ClockEstimate | rtt_ms: float = Field(ge=0, le=1e7, allow_inf_nan=False) | `False` → `True`':
            "the bounds already refuse NaN and ±inf (pydantic fails NaN on any ge/le comparison), so allowing them changes nothing.",
    },
    "agent.conductor": {
        'Conductor._run_play | assert order.audio_url and order.audio_sha256 and order.audio_size | '
        '`order.audio_url and order.audio_sha256 and order.audio_size` → '
        '`order.audio_url or order.audio_sha256 or order.audio_size`': "PlayOrder refuses a play order without all three audio fields, so the assertion holds either way.",
        'Conductor._load_checked | assert order.audio_url and order.audio_sha256 and order.audio_size | '
        '`order.audio_url and order.audio_sha256 and order.audio_size` → '
        '`order.audio_url or order.audio_sha256 or order.audio_size`': "PlayOrder refuses a play order without all three audio fields, so the assertion holds either way.",
        'Conductor._load_checked | path.unlink(missing_ok=True) | `path.unlink(missing_ok=True)` → `pass`':
            "the fetcher checks the stored file's sha256 again and deletes a damaged one itself before downloading.",
        'Conductor._load_checked | path.unlink(missing_ok=True) | `True` → `False`':
            "the damaged file was read a moment ago on the same event loop, so it is there to delete.",
        'Conductor._finish | job.state = state | `job.state = state` → `pass`':
            "the job leaves the queue in _run's finally right after, with no await between: nothing reads it.",
        'Conductor._finish_order | message=message or REASON_MESSAGES.get(reason or ""), started_at=started, '
        'ended_at=ended) | `""` → `\'XXXX\'`': "no reason code is 'XXXX' either: the lookup misses the same way.",
        'Conductor._sleep_until | if delay > 0: | `delay > 0` → `delay >= 0`':
            "asyncio.sleep(0) only yields to the loop once; the delay is a float that is never exactly 0 anyway.",
        'Conductor.shutdown | rest = [job.task for job in self._jobs.values() if job.task and not job.task.done()] | '
        '`job.task and not job.task.done()` → `job.task or not job.task.done()`':
            "a job leaves _jobs in its task's finally, so every task still listed is running.",
        'Conductor | async def shutdown(self, grace_s: float = 3.0) -> None: | `3.0` → `4.0`':
            "every player ends a playback within one chunk (≤ 0.1 s) of the stop request: the grace is never used up.",
        'Conductor._run_stop | if other.order.seq > job.order.seq: | `other.order.seq > job.order.seq` → '
        '`other.order.seq >= job.order.seq`': "seqs are unique per cluster (the store refuses a repeated one) and the "
                                              "stop itself is skipped before.",
        'Conductor._run_play | reason = playback.stop_reason or "interrupted" | `"interrupted"` → '
        '`\'XXinterruptedXX\'`': "every player completes, stops on a request (which sets the reason) or raises "
                                  "PlayerError: none ends a playback unfinished without a reason.",
    },
    "services.delivery_lanes": {
        '<module> | PRIORITY_RANKS = {"emergency": 1, "priority": 2, "normal": 3} | `3` → `4`':
            "normal stays the lowest rank; ranks are only compared with each other (best(), _more_urgent, _enqueue).",
        'DeliveryLanes.close | if loop is None or thread is None: | `loop is None or thread is None` → '
        '`loop is None and thread is None`': "start sets _loop and _thread and close clears them together: one is "
                                             "None exactly when the other is.",
        'DeliveryLanes._deliver.past_expiry | return self._clock() + (state.upcoming_sleep or 0.0) > order.expires_at | '
        '`self._clock() + (state.upcoming_sleep or 0.0) > order.expires_at` → '
        '`self._clock() + (state.upcoming_sleep or 0.0) >= order.expires_at`':
            "differs only when the clock plus the jittered float wait equals expires_at to the last bit.",
        'DeliveryLanes._deliver.past_expiry | return self._clock() + (state.upcoming_sleep or 0.0) > order.expires_at | '
        '`0.0` → `1.0`': "tenacity computes the wait (_run_wait) before it asks the stop, so upcoming_sleep is never "
                         "None or 0 here and the fallback is never used.",
        'DeliveryLanes._report | if result != "accepted": | `result != "accepted"` → `result == \'accepted\'`':
            "the condition only chooses whether to log a warning; the report itself is queued either way.",
        'DeliveryLanes._report | if result != "accepted": | `"accepted"` → `\'XXacceptedXX\'`':
            "the condition only chooses whether to log a warning; the report itself is queued either way.",
    },
    "services.delivery": {
        'DeliveryService.record | s.scalars(select(Cluster).where(Cluster.id.in_({row.cluster_id for row in '
        'rows.values()}))).all() | `s.scalars(select(Cluster).where(Cluster.id.in_({row.cluster_id for row in '
        'rows.values()}))).all()` → `pass`': "a prefetch into the session's identity map: record_outcome's "
                                            "s.get(Cluster) reads the same rows, one query each, without it.",
    },
    "services.handoff": {
        'ProgrammeHandoff | def hand_off_many(self, programmes: Sequence[ClusterProgramme], *, keep_issued: bool = False) '
        '-> dict[int, str]: | `False` → `True`': "a Protocol's body never runs: each implementation declares its own default.",
        'RecordingHandoff | def hand_off_many(self, programmes: Sequence[ClusterProgramme], *, keep_issued: bool = False) '
        '-> dict[int, str]: | `False` → `True`': "the recording hand-off records every call whatever keep_issued says.",
        'RecordingHandoff._append | handle.flush() | `handle.flush()` → `pass`':
            "the file is closed right after, which flushes it; only a power cut between fsync and close could show "
            "the difference, and no test here cuts the power.",
        'RecordingHandoff._append | os.fsync(handle.fileno()) | `os.fsync(handle.fileno())` → `pass`':
            "without fsync the line is still in the page cache for every reader; only a power cut could show it.",
    },
    "agent.store": {
        'AgentStore.__init__ | self._db.execute("PRAGMA synchronous=FULL") | `self._db.execute("PRAGMA synchronous=FULL")` '
        '→ `pass`': "FULL is also SQLite's compiled-in default here; the pragma pins it for builds whose WAL default "
                    "is NORMAL, which no test on this machine can run.",
        'AgentStore.__init__ | self._db.execute("PRAGMA busy_timeout=5000") | `self._db.execute("PRAGMA busy_timeout=5000")` '
        '→ `pass`': "sqlite3.connect's default timeout (5.0 s) already sets the same 5000 ms busy timeout.",
    },
    "services.scoping": {
        '<module> | ROLE_LABELS = {Role.OFFICER: "cán bộ văn hóa", Role.APPROVER: "lãnh đạo duyệt tin", '
        'Role.ADMIN: "quản trị"} | `"cán bộ văn hóa"` → `\'XXcán bộ văn hóaXX\'`':
            "officer is the lowest role, so no refusal ever names it as the role needed.",
        '<module> | _ROLE_RANK = {Role.OFFICER: 1, Role.APPROVER: 2, Role.ADMIN: 3} | `3` → `4`':
            "admin stays the highest rank; only the order of the ranks is used.",
    },
    "text.numbers": {
        'fraction_digits | stripped = text.lstrip("0") | `"0"` → `\'XX0XX\'`':
            "lstrip takes a set of characters; 'X' never occurs in the digits it is given.",
        'read_number | whole, fraction = text.split(",", 1) | `1` → `2`':
            "with two commas both versions raise ValueError (int() of '2,3' or a failed unpacking); "
            "the tokenizer never yields two commas.",
        'read_number | whole, fraction = text.split(".", 1) | `1` → `2`':
            "_DOT_DECIMAL has just matched, so the text has exactly one dot.",
        'read_number | if len(plain) > 1 and plain.startswith("0"): | `len(plain) > 1` → `len(plain) >= 1`':
            "only '0' gains the branch, and digits('0') == cardinal(0) == 'không'.",
        'read_number | if len(plain) > 1 and plain.startswith("0"): | `1` → `2`':
            "only two-digit '0x' leaves the branch, and it was read as cardinal(int) there too.",
        '<module> | _THOUSANDS_DOT = re.compile(r"^\\d{1,3}(?:\\.\\d{3})+$") '
        '| `r"^\\d{1,3}(?:\\.\\d{3})+$"` → `\'XX^\\\\d{1,3}(?:\\\\.\\\\d{3})+$XX\'`':
            "without the thousands branch the fallback strips the dots and reads the same cardinal; the "
            "two differ only for a group led by zero ('0.500'), which is no written amount.",
    },
    # --- the workflow, emergency and scheduler side, and the web security module (mutsvc) ---
    "web.security": {
        "new_pre_login_secret | return secrets.token_urlsafe(32) | `32` → `33`":
            "33 random bytes are no weaker than 32; the pre-login cookie holds whatever value it is given.",
    },
    "scheduler.lease": {
        'Lease.try_acquire | mine = or_(mine, SchedulerLease.holder.endswith(f":{self.node.node_id}", '
        'autoescape=True)) | `True` → `False`':
            "node ids are uuid4 hex: they hold no LIKE wildcard (% or _) for autoescape to escape.",
        'Lease.try_acquire | .where(SchedulerLease.name == self.name, or_(mine, SchedulerLease.expires_at <= now)) '
        '| `SchedulerLease.expires_at <= now` → `SchedulerLease.expires_at < now`':
            "the two differ only when the expiry equals this call's wall-clock microsecond; a standby then takes "
            "the lease one call later, which the TTL already allows for.",
        "Lease.try_acquire | self.previous = None | `self.previous = None` → `pass`":
            "nothing deletes the lease row, so a Lease inserts it only as its first acquisition, when previous "
            "is still the None its constructor set.",
    },
    "programming.emergency": {
        "latest_emergency_airing | .order_by(Airing.id.desc()).limit(1))  # fmt: skip | `1` → `2`":
            "session.scalar() takes the first row, the newest airing, whether one or two rows come back.",
        'EmergencyAirer.resume | holder = airing.claimed_by or "" | `""` → `\'XXXX\'`':
            "the claim writes composed_at and claimed_by together, so a claimed airing never has claimed_by None; "
            "and no holder id is 'XXXX' either.",
        'accept_emergency | {"airing_id": airing.id, "bulletin_id": bulletin.id, "cluster_id": cluster_id, '
        '"position": 0, | `"position"` → `\'XXpositionXX\'`':
            "a key that names no column is ignored by the multi-row insert, and the column's default is the same 0: "
            "the rows are identical.",
        "describe_emergency | .order_by(Delivery.play_at, Delivery.id).limit(1)).first()  # fmt: skip | `1` → `2`":
            ".first() takes the first row, the earliest delivery, whether one or two rows come back.",
        "EmergencyAirer._finish | .order_by(Delivery.play_at).limit(1))  # fmt: skip | `1` → `2`":
            "session.scalar() takes the first row, the earliest start, whether one or two rows come back.",
    },
}
