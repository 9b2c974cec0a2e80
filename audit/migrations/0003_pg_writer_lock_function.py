"""PostgreSQL: take the log's writer lock and read its head in one round trip.

A single SQL statement cannot do both: its snapshot is taken before the lock wait, so it
would read a stale head and fork. A VOLATILE plpgsql function gets a fresh snapshot for
each statement it runs, so the SELECT after PERFORM pg_advisory_xact_lock sees the record
the previous lock holder committed. The key is audit.services.ADVISORY_LOCK_KEY.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_writer_lock_head(lock_key bigint)
RETURNS TABLE (head_seq bigint, head_hash varchar) AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
        SELECT r.seq, r.hash FROM audit_decisionrecord r ORDER BY r.seq DESC LIMIT 1;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""


def _forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def _backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_writer_lock_head(bigint)")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(_forward, _backward)]
