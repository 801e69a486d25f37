"""`python -m polybench ...` is the `polybench` command."""

from polybench.cli import main

if __name__ == "__main__":
    main()
