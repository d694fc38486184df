"""The pipeline's stages as plain functions over paths: extract, split, format, package, validate.

Airflow tasks are thin wrappers around these, so each is testable and benchmarkable without a
scheduler. Every stage is deterministic: the same input gives byte-identical output.
"""
