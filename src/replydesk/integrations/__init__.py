"""The providers: one package each (webhook parsing, dedupe keys, signatures, event → lead
commands). ``providers.PROVIDERS`` lists them; ``processing`` applies stored events."""
