"""heldout: a machine-learning benchmark with a private test set, run on the Hugging Face Hub."""

__version__ = "0.1.0"

__all__ = ["__version__"]
