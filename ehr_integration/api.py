"""Integrator REST API for the EHR client registry (token-authenticated, staff only)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status, viewsets
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from ehr_integration.models import EhrClient
from ehr_integration.services import ehr_client_register


class EhrClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = EhrClient
        fields = [
            "id",
            "name",
            "issuer",
            "jwks",
            "jku_allowlist",
            "allowed_algorithms",
            "tenant",
            "fhir_base_url",
            "enabled_services",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "is_active", "created_at", "updated_at"]


class EhrClientViewSet(viewsets.ModelViewSet):
    """Register, list, update and deactivate EHR clients."""

    serializer_class = EhrClientSerializer
    permission_classes = [IsAdminUser]
    queryset = EhrClient.objects.all()
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def _save(self, data: dict[str, Any], instance: EhrClient | None = None) -> EhrClient:
        return ehr_client_register(
            instance=instance,
            issuer=data["issuer"],
            jwks=data.get("jwks"),
            jku_allowlist=data.get("jku_allowlist") or [],
            tenant=data.get("tenant", ""),
            fhir_base_url=data.get("fhir_base_url", ""),
            name=data.get("name", ""),
            allowed_algorithms=data.get("allowed_algorithms"),
            enabled_services=data.get("enabled_services") or [],
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = self._save(serializer.validated_data)
        return Response(self.get_serializer(client).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data)
        serializer.is_valid(raise_exception=True)
        client = self._save(serializer.validated_data, instance)
        return Response(self.get_serializer(client).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Deactivate rather than delete: audit records keep pointing at the client.
        client = self.get_object()
        client.is_active = False
        client.save(update_fields=["is_active", "updated_at"])
        return Response(status=status.HTTP_204_NO_CONTENT)
