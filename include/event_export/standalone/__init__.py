"""The whole product on one machine without Docker (`make up` / `make down`): Airflow's
api-server with the Exports plugin, scheduler, dag-processor and triggerer on 127.0.0.1, over a
PostgreSQL metadata database. The test suite's Airflow stack (tests/stack.py) starts the same
services from the same settings (`airflow_env.py`): what the tests prove is what `make up` runs.
"""
