"""`dialer serve`: the HTTP API (and dashboard) over the same library the CLI uses.

Only `app.py` and the `api_*.py` route modules import FastAPI, inside functions; everything else
here is plain library code (`csvfiles`, `campaigns`, `prospects`, `history`, `auth`) that the CLI
and the console can call without starting a server.
"""
