"""The migration's data flow: the orchestrator runs pages through the transform and a
target, and each page's ledger records what went where."""
