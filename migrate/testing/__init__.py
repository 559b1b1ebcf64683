"""Servers and site builders for the project's tests, demos and benchmarks, and a reference
implementation of the HTTP contract to test an endpoint against.

Not needed at run time: nothing in the migration imports this package, and importing it
starts nothing. Each module is importable without pytest (the fixtures live in tests/):

- `migrate.testing.contract`: `ContractServer`, an in-memory server of the HTTP target
  contract (migrate/systems/http/target.py) with injectable faults.
- `migrate.testing.synapse`: `SynapseServer`, `running_synapse`, a real Synapse homeserver
  seeded the way Cactus Comments fills rooms (needs `matrix-synapse` installed).
- `migrate.testing.isso`: `IssoServer`, a real Isso (needs `isso` installed).
- `migrate.testing.factories`: small builders of source comments, pages and archive files.

Every server listens on 127.0.0.1 only.
"""
