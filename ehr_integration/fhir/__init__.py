"""FHIR R4 reading into a typed patient record, code maps as data (no Django)."""
