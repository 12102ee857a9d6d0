"""`python -m jcbot` runs the CLI."""
from jcbot.cli import main

main()
