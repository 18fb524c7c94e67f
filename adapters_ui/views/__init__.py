"""Documents, HTML, charts and reports built from plain data: never a live session, backend or database.

    document       ReportData: one comparison as the record exports, the store and the API share (JSON, CSV)
    report         the self-contained HTML report and the export files
    html           the grid, diff and table markup (page and report share it)
    analysis_html  divergence tables, heat maps, leaderboards
    charts         plotly figures: storage against a full copy, differences, review strengths
    review_report  a review's results as tables and a page
    evaluation           an evaluation's verdicts as a table, best first, with badges; by category or tag
    evaluation_charts    the variant x category heatmap of differences from the baseline
    evaluation_items     the item browser's rows, one item's outputs with checks and diffs, the regressed items
    evaluation_exports   an evaluation document read for the views, and its CSV and JSON exports (no plotly)
    evaluation_report    the evaluation as one self-contained HTML page
"""
