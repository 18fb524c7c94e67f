"""Standard benchmarks per adapter through lm-evaluation-harness, on the one loaded base (issue 25).

``dependency`` says how to install lm-eval when it is missing; ``tasks`` finds the shipped task folder
and makes its relative ``data_files`` work from any directory; ``variant_lm`` is lm-eval's ``HFLM`` on
the backend's model, one variant switched on per forward pass; ``server_lm`` is lm-eval's ``local-completions``
on the remote backend's vLLM server, each variant its served model name; ``run`` runs ``simple_evaluate`` per
variant; ``records`` turns lm-eval's per-item samples into evaluation item records and paired verdicts.
"""
