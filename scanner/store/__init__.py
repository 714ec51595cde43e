"""The SQLite inventory: schema, migrations and every query."""
