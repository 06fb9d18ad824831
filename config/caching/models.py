from django.db import models


class TableStamp(models.Model):
    """A stamp that a committed change left on a table; written only by the
    database triggers of ``config.caching.triggers``, never by Django.

    A table's version is the set of its stamps' ids. Each transaction that
    changes a table adds one stamp, with a new id, and deletes the older
    stamps no other transaction holds: so a table keeps about one stamp per
    writer in flight, and its set of ids never comes back to an earlier one.
    (Rather than one row per table with a counter, which every writer of the
    table would have to lock until it commits: concurrent orders would queue
    on it, and two transactions that touch two tables in opposite orders
    would deadlock.)"""

    table_name = models.CharField(max_length=63, db_index=True)

    class Meta:
        verbose_name = "table stamp"

    def __str__(self):
        return f"{self.table_name} #{self.pk}"
