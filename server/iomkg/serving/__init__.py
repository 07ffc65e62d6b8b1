"""The serving layer: from the socket to the engine, everything that answers a SPARQL request.

::

    socket ─▶ worker.py (gunicorn's worker: uvicorn's loop and C parser, request limits)
           ─▶ web/gateway.py (ASGI: /sparql and /api/queries/NAME; the rest to Flask's routes)
           ─▶ endpoint.py (the one core: protocol.py parses, formats negotiates, cors.py,
              the row cap and failure mapping; Flask's routes call the same core)
           ─▶ service.py (the executor contract: QueryRequest in, a capped answer out)
           ─▶ executor/ (IsolatedExecutor: killable evaluator processes over the embedded
              store; DirectExecutor: in-process, or over a remote engine, --backend)
           ─▶ store/ (pyoxigraph on disk or in memory, or any SPARQL 1.1 engine)

``server.py`` is ``iomkg serve``: it makes the executor, then runs gunicorn over the gateway.
Nothing here knows about pages or the data's vocabulary; ``iomkg.web`` adapts the core to Flask.
"""
