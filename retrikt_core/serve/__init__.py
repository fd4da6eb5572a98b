"""``retrikt serve``: a bundle as an HTTP service (FastAPI on uvicorn).

Requests are checked against typed schemas, concurrent ones are gathered into
micro-batches for the bundle, and the service reports its health, the
bundle's metadata and Prometheus metrics. FastAPI and uvicorn come with the
``serve`` extra (``pip install 'retrikt-core[serve]'``); nothing here is
imported by the rest of retrikt.
"""

from retrikt_core.serve.app import ServeOptions, create_app

__all__ = ["ServeOptions", "create_app"]
