"""One comparison or chat reply as an object you iterate (run), the prompts it runs (prompts), and evaluation sets (evalset)."""
