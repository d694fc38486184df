"""The Task SDK's message validators are built once per worker, not in every task process.

Why: Airflow 3.3.2's task runner (`airflow.sdk.execution_time.task_runner`) builds pydantic
`TypeAdapter`s as it goes, in the task process: two for the supervisor's messages (the
`ToTask` union, in `CommsDecoder`'s field factories, `comms.py`) and one for each rendered
template field (`JsonValue`, three for a TaskFlow task). Building an adapter builds its
validator from the type's schema; for the `ToTask` union that is 4.3 ms of CPU, and the six
together 8.4-11.2 ms in a task process forked from a preloaded worker (1.3-1.4 shared). On
the stack the two phases that build them took 14-18 ms a task instance, 5.6-5.7 with the
adapters shared and the modules they imported preloaded (docs/capacity.md, "The Task SDK's
validators, built before the fork"). The adapters hold no state of the task: one built before
the fork serves every task process forked below it.

`install()` gives the two modules a `TypeAdapter` that returns one shared adapter for each of
the types they build adapters of (`shared_types()`), and builds those here, in the worker; any other
type, or a call with options, is built as Airflow builds it. preload() installs it in the
processes that run tasks, when preload is on (EES_PRELOAD). Where the modules or the types are
not where Airflow 3.3.2 has them (another Airflow version), nothing is installed and a warning
is logged: the task processes build their adapters as before.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# the Task SDK's modules whose module-level name `TypeAdapter` is replaced
MODULES = ("airflow.sdk.execution_time.comms", "airflow.sdk.execution_time.task_runner")


def shared_types() -> tuple:
    """The types the task runner builds adapters of in every task process (module docstring)."""
    from airflow.sdk.execution_time import comms
    from pydantic import JsonValue

    return (comms.ToTask, comms.StartupDetails, JsonValue)


def shared_adapter_class(types: tuple) -> type:
    """A `TypeAdapter` whose construction returns one adapter built once for each of `types`
    (compared by identity: the same objects the Task SDK passes), and builds any other adapter
    as pydantic does."""
    from pydantic import TypeAdapter

    built = {id(t): (t, TypeAdapter(t)) for t in types}

    class SharedTypeAdapter(TypeAdapter):
        # __new__ returns a plain TypeAdapter, so Python does not call __init__ on it again
        def __new__(cls, type, *args, **kwargs):
            entry = built.get(id(type))
            if entry is not None and entry[0] is type and not args and not kwargs:
                return entry[1]
            # the caller's namespace resolves forward references: one frame further up here
            kwargs["_parent_depth"] = kwargs.get("_parent_depth", 2) + 1
            return TypeAdapter(type, *args, **kwargs)

    SharedTypeAdapter.shared = True  # install() finds it installed
    return SharedTypeAdapter


def install() -> bool:
    """Share the Task SDK's adapters (module docstring); True when installed (or already)."""
    import importlib

    try:
        modules = [importlib.import_module(name) for name in MODULES]
        types = shared_types()
    except (ImportError, AttributeError):
        log.warning("task_adapters: the Task SDK is not as expected; left as it is", exc_info=True)
        return False
    if all(hasattr(getattr(m, "TypeAdapter", None), "shared") for m in modules):
        return True
    missing = [m.__name__ for m in modules if not hasattr(m, "TypeAdapter")]
    if missing:
        log.warning("task_adapters: %s has no TypeAdapter; left as it is", missing)
        return False
    shared = shared_adapter_class(types)
    for module in modules:
        module.TypeAdapter = shared
    return True
