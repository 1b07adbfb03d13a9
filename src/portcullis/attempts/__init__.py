"""Where the lockout counts password checks: the stores behind the core's Attempts port.

- ``memory``: this process's memory; atomic on the event loop (and under a lock for the
  threads of serve's own process);
- ``redis_store``: Redis, one Lua script per check, shared by every worker and instance;
- ``remote``: the workers of ``portcullis serve --workers N`` without Redis, asking the
  memory of the serve process that supervises them, so that N workers spend one budget,
  not N. Separate instances without Redis cannot share memory: they need Redis.
"""
