"""Fill the day rollups of the data that existed before they did.

0015 created ``LineDayRollup`` empty, and the ledger only adds the days of new crossings, so
without this every tenant that had counts before 0015 (and every restore of an archive made
before it) would show empty or short day, week and month series. The SQL is the one of
``counting.rollups.line_day_rollups_rebuild`` for all cameras at once, each in its site's
timezone, frozen here as migrations must be: hours that a local midnight cuts (+05:30, +05:45)
are split by their minutes where minutes are still kept. Restart stream workers with it (as
with every rollup migration): a day row a worker wrote meanwhile is replaced by the sum of its
hours, which already include that worker's crossings.
"""

from django.db import migrations

LOCAL_HOUR = "(h.hour AT TIME ZONE s.timezone)"
CUT = (f"({LOCAL_HOUR})::date <> ((h.hour + interval '59 minutes 59 seconds') "
       "AT TIME ZONE s.timezone)::date")

BACKFILL_SQL = (
    "INSERT INTO counting_linedayrollup (line_id, camera_id, day, count_in, count_out) "
    "SELECT line_id, camera_id, day, SUM(i), SUM(o) FROM ("
    f"  SELECT h.line_id, h.camera_id, ({LOCAL_HOUR})::date AS day, h.count_in AS i, "
    "   h.count_out AS o FROM counting_linehourrollup h "
    "   JOIN cameras_camera c ON c.id = h.camera_id JOIN cameras_site s ON s.id = c.site_id "
    f"  WHERE NOT {CUT} OR NOT EXISTS (SELECT 1 FROM counting_lineminuterollup m "
    "   WHERE m.line_id = h.line_id AND m.minute >= h.hour "
    "   AND m.minute < h.hour + interval '1 hour')"
    "  UNION ALL"
    "  SELECT m.line_id, m.camera_id, (m.minute AT TIME ZONE s.timezone)::date, m.count_in, "
    "   m.count_out FROM counting_linehourrollup h "
    "   JOIN cameras_camera c ON c.id = h.camera_id JOIN cameras_site s ON s.id = c.site_id "
    "   JOIN counting_lineminuterollup m ON m.line_id = h.line_id "
    "   AND m.minute >= h.hour AND m.minute < h.hour + interval '1 hour' "
    f"  WHERE {CUT}"
    ") AS parts GROUP BY line_id, camera_id, day "
    "ON CONFLICT (line_id, day) DO UPDATE SET count_in = EXCLUDED.count_in, "
    "count_out = EXCLUDED.count_out"
)


class Migration(migrations.Migration):

    dependencies = [
        ('cameras', '0003_url_secrets'),
        ('counting', '0016_line_day_covering'),
    ]

    operations = [
        # Reversed by emptying the table: applying it again refills it from the hours.
        migrations.RunSQL(BACKFILL_SQL, reverse_sql="DELETE FROM counting_linedayrollup"),
    ]
