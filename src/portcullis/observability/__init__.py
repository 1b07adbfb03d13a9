"""Watching the service: metrics, structured log lines, request ids.

Nothing here decides an answer: the core calls its Instruments port, the adapters call
Meters, and the outermost middleware notes each request.
"""
