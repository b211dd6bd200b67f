"""DKIM signing for the smtp transport: canonicalisation, keys, the signer, signing processes."""
