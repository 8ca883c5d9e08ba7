"""Knowledge as data: what the operator knows about components, beside the code.

``signals``: PromQL templates per component kind for the usual exporters (the
signals a policy can name and override).  ``failure_modes``: per component
kind, the ways it fails, with metric, log and caller-error signatures and the
vendor documentation they come from (entries in ``modes_db`` and
``modes_infra``; the entry type in ``mode_types``).  ``locks`` and
``transactions``: who holds a MySQL database's other transactions back (a lock
holder, an idle transaction pinning purge), and when no one does.  Pure data and pure functions: the
catalogue imports only the models.
"""
