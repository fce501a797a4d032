from django.db.models import QuerySet


def prefix_filter(queryset: QuerySet, field: str, prefix: str) -> QuerySet:
    """Filter rows whose `field` starts with `prefix`, in a way every database answers from an index.

    `LIKE 'abc%'` uses an index on SQLite only under conditions Django does not meet, so the
    range `abc <= field < abd` narrows through the index and `startswith` keeps the answer
    exact under any collation. Values are stored lowercase, so the prefix is lowercased first.
    """
    if not prefix:
        return queryset
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return queryset.filter(**{f"{field}__gte": prefix, f"{field}__lt": upper, f"{field}__startswith": prefix})
