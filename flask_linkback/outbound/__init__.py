"""Sending linkbacks: the outbox, discovery, delivery, the worker and the scheduler.

The database is the source of truth: publishing a post writes one outbox row
per (post, target, protocol); a worker claims due rows atomically, sends them
concurrently and records each result; APScheduler only says *when* to look.
"""
