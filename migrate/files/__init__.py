"""What every file target shares: the page-atomic store, delta files for `sync`, and the
escaping each importer's reading needs. The targets themselves live in their systems."""
