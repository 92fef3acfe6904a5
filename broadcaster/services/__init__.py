"""The logic of the bulletin service, used by the API, the command line and the scheduler.

- ``scoping``: who may see and do what (commune scoping, roles) — the rules in one place;
- ``auth``, ``users``: passwords, bearer tokens, accounts;
- ``registry``: communes, zones, speaker clusters;
- ``bulletins``, ``workflow``: bulletins and their life (submit, approve, reject, cancel, emergency);
- ``broadcast_log``: what aired where, and its CSV export;
- ``audit``: the append-only audit log;
- ``health``: health and metrics queries;
- ``timetable_access``: scoped access to a commune's timetable (``timetables`` does the work);
- ``timetables``, ``programming``, ``handoff``: timetables, composing programmes, delivery hand-off.

Services take a SQLAlchemy session and the acting user, check scope and role, and commit their
own work before returning, so whatever the API acknowledges is durable.
"""
