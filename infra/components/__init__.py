"""The components of the local infrastructure, one module each, behind one interface.

``interface`` defines :class:`Component` (``up``, ``down``, ``status``) and :class:`Status`;
``kafka`` is the broker, ``postgres`` a PostgreSQL cluster of any major version.
"""

from schemashift.infra.components.interface import Component, InfraError, State, Status

__all__ = ["Component", "InfraError", "State", "Status"]
