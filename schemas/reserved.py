"""Names Schemashift reserves in the databases it migrates."""

# The executor's history lives in this schema of every target; introspection leaves it out.
# A leading underscore keeps it apart from role names: with PostgreSQL's default search_path
# ("$user", public), a schema named like the connecting role would capture its new tables.
HISTORY_SCHEMA = "_schemashift"

# SQLite has no schemas: the executor's history is this table of the target's main database
# (introspection leaves it out), and a table is rebuilt under this prefix before it takes its
# name back (so that no user table can be in the way).
SQLITE_HISTORY_TABLE = "_schemashift_history"
SQLITE_REBUILD_PREFIX = "_schemashift_new_"
# A MySQL database is one schema: the executor's history is this table of the target database
# (introspection leaves it out).
MYSQL_HISTORY_TABLE = "_schemashift_history"
