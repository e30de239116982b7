"""Subcommands of the `heldout` CLI, one concept per module."""
