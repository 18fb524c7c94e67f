"""Documents, HTML, charts and reports built from plain data: never a live session, backend or database.

    document       ReportData: one comparison as the record exports, the store and the API share (JSON, CSV)
    report         the self-contained HTML report and the export files
    html           the grid, diff and table markup (page and report share it)
    analysis_html  divergence tables, heat maps, leaderboards
    charts         plotly figures: storage against a full copy, differences, review strengths
    review_report  a review's results as tables and a page
"""
