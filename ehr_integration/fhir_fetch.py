"""Reads from an EHR's FHIR server through fhirclient, with the guards every outbound call needs.

fhirclient's FHIRServer does the FHIR REST reading; its requests session is replaced by one
that enforces a timeout, refuses redirects, caps the response size and only talks to
allowlisted hosts. Search results are followed across pages (`next` links) up to a limit.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from fhirclient.server import FHIRServer


class FhirFetchError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GuardedSession(requests.Session):
    """A requests session that cannot hang, follow redirects, or read unbounded bodies."""

    def __init__(self, *, timeout: float, max_bytes: int, allowed_hosts: list[str]) -> None:
        super().__init__()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        # Redirects are refused by allow_redirects=False below; max_redirects stays at its
        # default because requests walks one redirect step (to fill `next`) even when not
        # following, and a limit of 0 would turn every 3xx into TooManyRedirects.

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        host = (urlsplit(str(url)).hostname or "").lower()
        if host not in self.allowed_hosts:
            raise FhirFetchError("host_not_allowed")
        kwargs["timeout"] = self.timeout
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            raise FhirFetchError("fhir_unreachable") from exc
        if 300 <= response.status_code < 400:
            response.close()
            raise FhirFetchError("fhir_redirect_refused")
        body = response.raw.read(self.max_bytes + 1, decode_content=True)
        response.close()
        if len(body) > self.max_bytes:
            raise FhirFetchError("fhir_response_too_large")
        response._content = body
        response._content_consumed = True
        return response


def fhir_server_open(
    *, base_url: str, access_token: str | None, allowed_hosts: list[str]
) -> FHIRServer:
    """A fhirclient FHIRServer on a guarded session, bearer token attached when given."""
    hooks = settings.CDS_HOOKS
    parts = urlsplit(base_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and hooks["ALLOW_HTTP_FHIR"]):
        raise FhirFetchError("fhir_scheme_refused")
    server = FHIRServer(None, base_uri=base_url)
    server.session = GuardedSession(
        timeout=float(hooks["FHIR_TIMEOUT_SECONDS"]),
        max_bytes=int(hooks["FHIR_MAX_BYTES"]),
        allowed_hosts=[*allowed_hosts, *hooks["FHIR_HOST_ALLOWLIST"]],
    )
    if access_token:
        server.session.headers["Authorization"] = f"Bearer {access_token}"
    return server


def _next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def bundle_has_next(bundle: Any) -> bool:
    """A searchset page that says more follows (a `next` link)."""
    return (
        isinstance(bundle, dict)
        and bundle.get("resourceType") == "Bundle"
        and _next_link(bundle) is not None
    )


def _pages_follow(server: FHIRServer, first: dict[str, Any]) -> dict[str, Any]:
    """Merge `first` and every following page into one searchset Bundle (page cap applies).

    Partial data is worse than none for a recommendation (a missed medication looks like
    an untreated patient), so any page failure fails the whole read."""
    entries = list(first.get("entry") or [])
    page, pages = first, 1
    while (next_url := _next_link(page)) is not None:
        pages += 1
        if pages > settings.CDS_HOOKS["FHIR_MAX_PAGES"]:
            raise FhirFetchError("fhir_too_many_pages")
        try:
            page = server.request_json(urljoin(server.base_uri, next_url))
        except FhirFetchError:
            raise
        except Exception as exc:
            raise FhirFetchError("fhir_bad_page") from exc
        if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
            raise FhirFetchError("fhir_bad_page")
        entries.extend(page.get("entry") or [])
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def fhir_search_all(
    *, base_url: str, query: str, access_token: str | None, allowed_hosts: list[str]
) -> dict[str, Any]:
    """Run a read or search; for a search, merge all pages into one searchset Bundle."""
    server = fhir_server_open(
        base_url=base_url, access_token=access_token, allowed_hosts=allowed_hosts
    )
    try:
        first = server.request_json(query)
    except FhirFetchError:
        raise
    except (requests.HTTPError, ValueError, json.JSONDecodeError) as exc:
        raise FhirFetchError("fhir_bad_response") from exc
    except Exception as exc:  # fhirclient raises plain Exception subclasses on 401/403
        raise FhirFetchError("fhir_error_status") from exc
    if not isinstance(first, dict) or not isinstance(first.get("resourceType"), str):
        raise FhirFetchError("fhir_bad_response")
    if first["resourceType"] == "OperationOutcome":
        raise FhirFetchError("fhir_operation_outcome")
    if first["resourceType"] != "Bundle":
        return first
    return _pages_follow(server, first)


def fhir_bundle_complete(
    *, bundle: dict[str, Any], base_url: str, access_token: str | None, allowed_hosts: list[str]
) -> dict[str, Any]:
    """Complete a paginated Bundle an EHR sent as prefetch by reading its `next` pages."""
    server = fhir_server_open(
        base_url=base_url, access_token=access_token, allowed_hosts=allowed_hosts
    )
    return _pages_follow(server, bundle)
