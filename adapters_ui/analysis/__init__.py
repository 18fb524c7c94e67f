"""Analysis that explains differences: pure numbers over plain data (no torch, no page, no database).

    text_diff     word diffs and similarity between two outputs
    divergence    where a variant departs from the base, token by token (KL, log-probabilities, top-1)
    references    how close each variant comes to reference answers (exact, contains, ROUGE-L, perplexity)
    weights       what each adapter changed inside the model, per layer and module (the records)
    review_stats  win rates, strengths and agreement of blind reviews
    style_control how much of a review's verdict is length and markdown (LMArena style control, AlpacaEval LC)
    analyze       runs the backend's read-back for the first two on a finished comparison
"""
