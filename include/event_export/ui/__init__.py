"""The Exports page: its rows (catalog, pure), their Airflow side (metadata DB reads, stop,
resume, run once), the FastAPI app, its HTML and the cross-origin guard.
"""
