"""Platform adapters: one subpackage per platform behind the contract in `base`."""
