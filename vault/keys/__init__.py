"""The key lifecycle: rotate, rewrap, retire, rekey and status, and crypto-shredding by list.

``usage`` says which columns hold which purpose's key ids; ``rewrap`` re-encrypts subscriber rows
under the primary keys in resumable batches; ``services`` changes the keyring file (under a lock,
atomically) and audits every change. Rehash on sight lives with the suppressions
(``vault.suppressions.rehash``), where the plain address is seen.
"""
