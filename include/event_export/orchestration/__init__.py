"""Airflow integration: configs -> DAGs (factory, builder), the health-check DAG, the REST
client and the failure records tasks push to XCom.
"""
