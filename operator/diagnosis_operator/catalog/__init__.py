"""Knowledge as data: what the operator knows about components, beside the code.

``signals``: PromQL templates per component kind for the usual exporters (the
signals a policy can name and override).  Pure data and pure functions: the
catalogue imports only the models.
"""
