"""Event Export Scheduler: scheduled delivery of event data into clients' own storage."""
