"""An auth manager for the tests: Airflow's simple one, except that viewers see only acme's DAGs.

The simple auth manager grants by role alone; this narrows it per DAG, as a real deployment's
manager (FAB, Keycloak...) would, so the Exports page's per-export permissions can be proven.
"""

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

VISIBLE_TO_VIEWERS = "acme"


class AcmeOnlyForViewers(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        dag_id = details.id if details else None
        if getattr(user, "role", None) == "viewer" and dag_id and VISIBLE_TO_VIEWERS not in dag_id:
            return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
