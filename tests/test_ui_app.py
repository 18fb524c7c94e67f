"""The first app: handlers without a server, then the real server through gradio_client."""

from __future__ import annotations

import gradio as gr
import pytest

from adapters_ui.ui.app import SessionHolder, attach, compare, create_app, detach, records_html


def test_handlers_attach_compare_detach(tiny_settings, tiny_adapters):
    holder = SessionHolder(tiny_settings)
    header, table, _detach_choices, variants = attach(holder, str(tiny_adapters["lora"]), "pirate")
    assert "adapters:** 1" in header
    assert list(table["name"]) == ["pirate"] and table["type"][0] == "LoRA"
    records = compare(holder, "Hello\n\nWhat?\n", ["base", "pirate"], 5)
    assert [r["prompt"] for r in records] == ["Hello", "What?"]
    grid = records_html([{"prompt": "<b>", "outputs": {"base": "same", "pirate": "same"}}])
    assert "<th>pirate</th>" in grid and "&lt;b&gt;" in grid and 'class="same"' in grid
    detach(holder, "pirate")
    assert holder.get().variants == ["base"]


@pytest.mark.parametrize(
    "path, name, words",
    [("/no/such/folder", "", "Adapter folder not found"), ("{lora}", "base", "reserved"), ("", "", "No adapter folder given")],
)
def test_handler_errors_are_one_line_gradio_errors(path, name, words, tiny_settings, tiny_adapters):
    holder = SessionHolder(tiny_settings)
    with pytest.raises(gr.Error) as caught:
        attach(holder, path.format(lora=tiny_adapters["lora"]), name)
    assert words in caught.value.message and "\n" not in caught.value.message
    assert holder.get().variants == ["base"]


def test_compare_api_through_gradio_client(tiny_settings, tiny_adapters):
    from gradio_client import Client

    demo = create_app(tiny_settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None)
    try:
        client = Client(demo.local_url, verbose=False)
        result = client.predict("Hi there\nBye", ["base"], 4, api_name="/compare")
        assert [r["prompt"] for r in result] == ["Hi there", "Bye"]
        assert set(result[0]["outputs"]) == {"base"}
        with pytest.raises(Exception, match="Unknown variant 'ghost'"):
            client.predict("Hi", ["base", "ghost"], 4, api_name="/compare")
    finally:
        demo.close()
