"""storage: PostgreSQL (pool, migrations, all SQL) and the write-once object stores."""
