"""Every model module, imported once so the metadata (and every foreign key) is complete."""

from .access import agency_settings
from .access import models as access_models
from .audit import models as audit_models
from .auth import models as auth_models
from .crm import models as crm_models
from .crypto import models as crypto_models
from .db import Base
from .devices import models as device_models

__all__ = ["Base", "access_models", "agency_settings", "audit_models", "auth_models", "crm_models",
           "crypto_models", "device_models"]
