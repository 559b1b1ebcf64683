"""One module per command: each builds objects, calls the pipeline and returns a result that
the CLI prints (run, verify, rollback, status, extract, demo)."""
