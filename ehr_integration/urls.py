from __future__ import annotations

from rest_framework.routers import SimpleRouter

from ehr_integration.api import EhrClientViewSet

router = SimpleRouter(trailing_slash=False)
router.register("ehr-clients", EhrClientViewSet, basename="ehr-client")
urlpatterns = router.urls
