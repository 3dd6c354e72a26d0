"""The `synthetic` spec: pydantic models, validated once at load and frozen."""
from .loading import load_spec, parse_spec, read_yaml
from .model import Spec

__all__ = ["Spec", "load_spec", "parse_spec", "read_yaml"]
