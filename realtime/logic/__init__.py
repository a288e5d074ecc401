"""The WebSocket functions' logic: what to answer, whether to let a socket in, whom a token
names. It takes what the handlers parsed out of API Gateway's events (``ClientMessage``,
``Opening``, ``Closing``, a token) and ports, never an event; the handlers (realtime/actions.py,
connection.py, authorizer.py) parse and answer API Gateway. The broadcaster's logic is
realtime/changes.py (one stream change to its messages) and realtime/fanout.py (delivery).
"""
