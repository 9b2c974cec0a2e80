"""CDS Hooks 2.0.1 cards that cannot be invalid (pure Python, no Django).

Every constructor validates, so a service can only emit a card an EHR will accept:
summary under 140 characters, indicator from the enum, a source with a label, suggestions
whose actions carry a description and the resource (or resourceId for delete), override
reasons with a display, links that are absolute URLs of type absolute|smart.
`card_validate` checks any card dict (ours or a fixture) against the same rules.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

Indicator = Literal["info", "warning", "critical"]
INDICATORS = ("info", "warning", "critical")
ACTION_TYPES = ("create", "update", "delete")
SELECTION_BEHAVIORS = ("at-most-one", "any")
LINK_TYPES = ("absolute", "smart")
SUMMARY_MAX = 140


class CardError(ValueError):
    """The card would break the CDS Hooks card rules; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _absolute_url(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise CardError(path, "must be a string URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CardError(path, "must be an absolute http(s) URL")
    return value


def _text(value: Any, path: str, *, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CardError(path, "must be a non-empty string")
    if max_len is not None and len(value) >= max_len:
        raise CardError(path, f"must be shorter than {max_len} characters")
    return value


@dataclass(frozen=True)
class Coding:
    code: str
    system: str
    display: str = ""

    def to_json(self) -> dict[str, str]:
        out = {
            "code": _text(self.code, "coding.code"),
            "system": _text(self.system, "coding.system"),
        }
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class Source:
    label: str
    url: str = ""
    icon: str = ""
    topic: Coding | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": _text(self.label, "source.label")}
        if self.url:
            out["url"] = _absolute_url(self.url, "source.url")
        if self.icon:
            out["icon"] = _absolute_url(self.icon, "source.icon")
        if self.topic is not None:
            out["topic"] = self.topic.to_json()
        return out


@dataclass(frozen=True)
class Action:
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resource_id: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.type not in ACTION_TYPES:
            raise CardError("action.type", f"must be one of {ACTION_TYPES}")
        out: dict[str, Any] = {
            "type": self.type,
            "description": _text(self.description, "action.description"),
        }
        if self.type in ("create", "update"):
            if not isinstance(self.resource, dict) or "resourceType" not in self.resource:
                raise CardError("action.resource", "create/update needs a FHIR resource")
            out["resource"] = self.resource
        else:
            if not self.resource_id or "/" not in self.resource_id:
                raise CardError("action.resourceId", "delete needs a relative reference Type/id")
            out["resourceId"] = self.resource_id
        return out


@dataclass(frozen=True)
class Suggestion:
    label: str
    actions: tuple[Action, ...] = ()
    is_recommended: bool | None = None
    uuid: str = field(default_factory=lambda: str(uuid_module.uuid4()))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": _text(self.label, "suggestion.label"), "uuid": self.uuid}
        if self.is_recommended is not None:
            out["isRecommended"] = self.is_recommended
        if self.actions:
            out["actions"] = [a.to_json() for a in self.actions]
        return out


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    app_context: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.type not in LINK_TYPES:
            raise CardError("link.type", f"must be one of {LINK_TYPES}")
        out: dict[str, Any] = {
            "label": _text(self.label, "link.label"),
            "url": _absolute_url(self.url, "link.url"),
            "type": self.type,
        }
        if self.app_context:
            if self.type != "smart":
                raise CardError("link.appContext", "only smart links carry appContext")
            out["appContext"] = self.app_context
        return out


@dataclass(frozen=True)
class Card:
    summary: str
    indicator: Indicator
    source: Source
    detail: str = ""
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: Literal["at-most-one", "any"] | None = None
    override_reasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()
    uuid: str = field(default_factory=lambda: str(uuid_module.uuid4()))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uuid": self.uuid,
            "summary": _text(self.summary, "card.summary", max_len=SUMMARY_MAX),
            "indicator": self.indicator,
            "source": self.source.to_json(),
        }
        if self.indicator not in INDICATORS:
            raise CardError("card.indicator", f"must be one of {INDICATORS}")
        if self.detail:
            out["detail"] = self.detail
        if self.suggestions:
            out["suggestions"] = [s.to_json() for s in self.suggestions]
            behavior = self.selection_behavior or "at-most-one"
            if behavior not in SELECTION_BEHAVIORS:
                raise CardError("card.selectionBehavior", f"must be one of {SELECTION_BEHAVIORS}")
            out["selectionBehavior"] = behavior
        elif self.selection_behavior is not None:
            raise CardError("card.selectionBehavior", "only allowed with suggestions")
        if self.override_reasons:
            for reason in self.override_reasons:
                if not reason.display:
                    raise CardError("card.overrideReasons", "each reason needs a display")
            out["overrideReasons"] = [r.to_json() for r in self.override_reasons]
        if self.links:
            out["links"] = [link.to_json() for link in self.links]
        card_validate(out)
        return out


def _no_nulls(value: Any, path: str) -> None:
    """CDS Hooks: JSON elements SHALL NOT be null (an absent key says "not given")."""
    if value is None:
        raise CardError(path, "must not be null (omit the field instead)")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nulls(item, f"{path}[{i}]")


def _optional_array(container: dict[str, Any], key: str, path: str) -> list[Any]:
    """An optional array field: absent is fine, present must be a non-empty array."""
    if key not in container:
        return []
    value = container[key]
    if not isinstance(value, list) or not value:
        raise CardError(f"{path}.{key}", "must be a non-empty array when present")
    return value


def _coding_validate(value: Any, path: str, *, display_required: bool) -> None:
    if not isinstance(value, dict):
        raise CardError(path, "must be a Coding object")
    _text(value.get("code"), f"{path}.code")
    _text(value.get("system"), f"{path}.system")
    if display_required or "display" in value:
        _text(value.get("display"), f"{path}.display")


def action_validate(action: Any, path: str) -> None:
    """One Action (in a suggestion or in systemActions): type, description, resource/Id."""
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        raise CardError(f"{path}.type", f"must be one of {ACTION_TYPES}")
    _text(action.get("description"), f"{path}.description")
    if action["type"] in ("create", "update"):
        resource = action.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise CardError(f"{path}.resource", "create/update needs a FHIR resource")
    else:
        if "resource" in action:
            raise CardError(f"{path}.resource", "delete names the resource by resourceId")
        _text(action.get("resourceId"), f"{path}.resourceId")
    if "resourceId" in action:
        _text(action.get("resourceId"), f"{path}.resourceId")


def card_validate(card: Any, *, path: str = "card") -> None:
    """Raise CardError unless `card` (a JSON dict) follows the CDS Hooks 2.0.1 card rules."""
    if not isinstance(card, dict):
        raise CardError(path, "must be an object")
    _no_nulls(card, path)
    if "uuid" in card:
        _text(card["uuid"], f"{path}.uuid")
    _text(card.get("summary"), f"{path}.summary", max_len=SUMMARY_MAX)
    if card.get("indicator") not in INDICATORS:
        raise CardError(f"{path}.indicator", f"must be one of {INDICATORS}")
    source = card.get("source")
    if not isinstance(source, dict):
        raise CardError(f"{path}.source", "is required")
    _text(source.get("label"), f"{path}.source.label")
    for key in ("url", "icon"):
        if key in source:
            _absolute_url(source[key], f"{path}.source.{key}")
    if "topic" in source:
        _coding_validate(source["topic"], f"{path}.source.topic", display_required=False)
    if "detail" in card:
        _text(card["detail"], f"{path}.detail")
    suggestions = _optional_array(card, "suggestions", path)
    for i, suggestion in enumerate(suggestions):
        spath = f"{path}.suggestions[{i}]"
        if not isinstance(suggestion, dict):
            raise CardError(spath, "must be an object")
        _text(suggestion.get("label"), f"{spath}.label")
        if "uuid" in suggestion:
            _text(suggestion["uuid"], f"{spath}.uuid")
        if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
            raise CardError(f"{spath}.isRecommended", "must be a boolean")
        for j, action in enumerate(_optional_array(suggestion, "actions", spath)):
            action_validate(action, f"{spath}.actions[{j}]")
    if suggestions and card.get("selectionBehavior") not in SELECTION_BEHAVIORS:
        raise CardError(f"{path}.selectionBehavior", "required with suggestions")
    if "selectionBehavior" in card and not suggestions:
        raise CardError(f"{path}.selectionBehavior", "only allowed with suggestions")
    for i, reason in enumerate(_optional_array(card, "overrideReasons", path)):
        _coding_validate(reason, f"{path}.overrideReasons[{i}]", display_required=True)
    for i, link in enumerate(_optional_array(card, "links", path)):
        lpath = f"{path}.links[{i}]"
        if not isinstance(link, dict):
            raise CardError(lpath, "must be an object")
        _text(link.get("label"), f"{lpath}.label")
        _absolute_url(link.get("url"), f"{lpath}.url")
        if link.get("type") not in LINK_TYPES:
            raise CardError(f"{lpath}.type", f"must be one of {LINK_TYPES}")
        if "appContext" in link:
            if link["type"] != "smart":
                raise CardError(f"{lpath}.appContext", "only smart links carry appContext")
            _text(link["appContext"], f"{lpath}.appContext")
        if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
            raise CardError(f"{lpath}.autolaunchable", "must be a boolean")


def cards_response_validate(response: Any) -> None:
    """Validate a whole hook response body: {"cards": [...], "systemActions"?: [...]}."""
    if not isinstance(response, dict) or not isinstance(response.get("cards"), list):
        raise CardError("response", "must be an object with a `cards` array")
    for i, card in enumerate(response["cards"]):
        card_validate(card, path=f"cards[{i}]")
    for i, action in enumerate(_optional_array(response, "systemActions", "response")):
        _no_nulls(action, f"systemActions[{i}]")
        action_validate(action, f"systemActions[{i}]")
