"""What a run covers and when: client-day windows, periods, one-time requests and the
rules between exports. Pure: no Airflow task code, no I/O.
"""
