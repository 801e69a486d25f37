"""Commands of this module are added by the issue that owns it."""
