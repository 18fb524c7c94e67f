"""One comparison or chat reply as an object you iterate (run), and the prompts it runs (prompts)."""
