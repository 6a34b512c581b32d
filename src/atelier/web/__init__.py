"""Server-rendered web UI: the admin app (``/app``) and the partner portal (``/portal``).

``shared`` holds what both use: the cookie session, CSRF, the Jinja2 environment, static files
and the HTML error pages. Pages call the same services as the JSON API; never HTTP to itself.
"""
