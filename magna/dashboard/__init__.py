"""The web dashboard: Magna's API as pages a browser shows, served by ``magna-api``.

Everything the dashboard does goes through the v1 API in the same process (``apicall``), with
the user's own identity: the same validation, policy and error messages as ``openstack coe``
or ``magna``, and no second path to the services. Pages are rendered on the server (Jinja2);
htmx (vendored, ``static/vendor``) refreshes parts of them while clusters change. See
docs/dashboard.md and the row in docs/decisions.md.
"""
