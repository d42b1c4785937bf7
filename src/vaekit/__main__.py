"""``python -m vaekit`` (also what ``torchrun -m vaekit`` runs)."""

from .cli import run

if __name__ == "__main__":
    run()
