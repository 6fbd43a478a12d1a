"""The Faust stream job: normalize -> classify -> index (more stages to come)."""
