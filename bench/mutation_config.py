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
    },
}
