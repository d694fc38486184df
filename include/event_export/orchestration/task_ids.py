"""The export DAG's task ids, named once.

The builder declares its tasks with these; the health check and the Exports page read runs, task
instances and XComs by them. Renaming a task here renames it everywhere, so it cannot silently
break the page or the health check.
"""

CHECK_REQUEST = "check_request"  # one-time exports only
CHECK_DESTINATION = "check_destination"
EXTRACT = "extract"
SPLIT_BY_EVENT = "split_by_event"
FORMAT = "format"  # mapped per event
CHUNK = "chunk"
UPLOAD = "upload"  # mapped per file
VALIDATE = "validate"

# in the order a run goes through them
ALL = (CHECK_REQUEST, CHECK_DESTINATION, EXTRACT, SPLIT_BY_EVENT, FORMAT, CHUNK, UPLOAD, VALIDATE)
