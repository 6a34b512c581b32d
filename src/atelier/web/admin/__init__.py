"""The admin web app at ``/app``: server-rendered pages over the same services as the API."""
