"""Analysis that explains differences: pure functions over tensors and plain data (no gradio).

    divergence   where a variant departs from the base, token by token (KL, log-probabilities, top-1)
    references   how close each variant comes to reference answers (exact, contains, ROUGE-L, perplexity)
    weights      what each adapter changed inside the model, per layer and module
    analyze      runs the model work for the first two on a finished comparison
"""
