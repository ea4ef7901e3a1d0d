"""Names Schemashift reserves in the databases it migrates."""

# The executor's history lives in this schema of every target; introspection leaves it out.
# A leading underscore keeps it apart from role names: with PostgreSQL's default search_path
# ("$user", public), a schema named like the connecting role would capture its new tables.
HISTORY_SCHEMA = "_schemashift"

# A MySQL database is one schema: the executor's history is this table of the target database
# (introspection leaves it out).
MYSQL_HISTORY_TABLE = "_schemashift_history"
