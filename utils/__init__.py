"""Plumbing for comment-migrate: checkpoint store, durable writes, HTTP and retries, logging.

Nothing here imports from `migrate`.
"""
